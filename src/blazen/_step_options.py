"""Reading ``@step`` options and annotations: checked values, or a clear error."""

from __future__ import annotations

import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, Union

from blazen.errors import WorkflowValidationError
from blazen.events import Event

__all__ = [
    "retry_policy",
    "Emits",
    "StepTypeError",
    "check_signature",
    "count_option",
    "emits_of",
    "emitted_classes",
    "event_classes",
    "name_list",
    "name_values",
    "seconds_option",
    "type_hints",
]

Emits: TypeAlias = "list[str | type[Event]] | tuple[str | type[Event], ...]"


class StepTypeError(WorkflowValidationError, TypeError):
    """Not a step, or a step option (or step property) given a value of the wrong type."""


def name_values(step_name: str, option: str, value: Any) -> tuple[str, ...]:
    """A property's list of event type names: a sequence (not a str) of non-empty str."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise StepTypeError(
            f"step {step_name!r}: {option} must be a list of event type names, "
            f"got {type(value).__name__}"
        )
    for item in value:
        if not isinstance(item, str):
            raise StepTypeError(
                f"step {step_name!r}: {option} holds {item!r}, not an event type name (str)"
            )
        if not item:
            raise WorkflowValidationError(f"step {step_name!r}: {option} holds an empty name")
    return tuple(value)


def check_signature(fn: Callable[..., Any], step_name: str) -> str:
    """A step is called as ``fn(ctx, ev)``; return the name of the event parameter."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        raise WorkflowValidationError(f"step {step_name!r}: cannot read its signature") from exc
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    extra = [p for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    if len(positional) != 2 or extra:
        raise WorkflowValidationError(
            f"step {step_name!r} must take exactly two parameters (ctx, ev), "
            f"got ({', '.join(p.name for p in params)})"
        )
    return positional[1].name


def name_list(step_name: str, option: str, value: Any, example: str) -> Any:
    """``accepts=``/``emits=`` must be a list (or tuple); a bare str would split into letters."""
    if value is None or isinstance(value, (list, tuple)):
        return value
    if isinstance(value, str):
        raise StepTypeError(
            f"step {step_name!r}: {option}= got the str {value!r}; pass a list, "
            f"e.g. {option}=[{value!r}]"
        )
    raise StepTypeError(
        f"step {step_name!r}: {option}= must be a list, e.g. {option}={example}, "
        f"got {type(value).__name__}"
    )


def count_option(step_name: str, option: str, value: Any) -> int:
    """A count option: an int (not a bool) >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise StepTypeError(f"step {step_name!r}: {option} must be an int >= 0, got {value!r}")
    if value < 0:
        raise WorkflowValidationError(
            f"step {step_name!r}: {option} must be an int >= 0, got {value!r}"
        )
    return int(value)


def seconds_option(step_name: str, option: str, value: Any, *, allow_zero: bool) -> float:
    """A duration option: a finite int or float (not a bool), > 0 (or >= 0) seconds."""
    bound = ">= 0" if allow_zero else "> 0"
    seconds: float | None = None
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        try:
            seconds = float(value)
        except (OverflowError, ValueError):
            seconds = None
    if (
        seconds is None
        or not math.isfinite(seconds)
        or seconds < 0
        or (seconds == 0 and not allow_zero)
    ):
        raise WorkflowValidationError(
            f"step {step_name!r}: {option} must be a finite number of seconds {bound}, "
            f"got {value!r}"
        )
    return seconds


def type_hints(fn: Callable[..., Any], caller_locals: dict[str, Any]) -> dict[str, Any]:
    """Resolve annotations, also against the decorating scope (for locally defined events)."""
    try:
        return typing.get_type_hints(fn, localns=caller_locals)
    except Exception:
        raw: dict[str, Any] = dict(getattr(fn, "__annotations__", {}))
        ns = {**getattr(fn, "__globals__", {}), **caller_locals}
        for key, value in raw.items():
            if isinstance(value, str):
                try:
                    raw[key] = eval(value, ns)  # annotations only; same as get_type_hints
                except Exception:
                    raw[key] = _Unresolved(value)
        return raw


class _Unresolved:
    """An annotation string that names nothing in scope (a typo, or a class defined later)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _flatten(hint: Any) -> list[Any]:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return [t for arg in typing.get_args(hint) for t in _flatten(arg)]
    if origin in (list, tuple) or origin is typing.Annotated:
        return [t for arg in typing.get_args(hint)[:1] for t in _flatten(arg)]
    return [hint]


def event_classes(hint: Any, step_name: str | None = None) -> tuple[type[Event], ...]:
    """Event classes named by an ``ev`` annotation; ``Event``/none means StartEvent."""
    if hint is None or hint is Event or hint is inspect.Parameter.empty:
        return ()
    if isinstance(hint, _Unresolved):
        if step_name is None:
            return ()
        raise WorkflowValidationError(
            f"step {step_name!r}: cannot resolve the ev annotation {hint.text!r}; define the "
            f"event class before the step, or pass accepts=[...]"
        )
    classes = []
    for t in _flatten(hint):
        if t is type(None):
            continue
        if isinstance(t, type) and issubclass(t, Event):
            if t is not Event:
                classes.append(t)
            continue
        if step_name is not None:
            raise WorkflowValidationError(
                f"step {step_name!r}: the ev annotation {hint!r} is not an Event type; "
                f"annotate it with an Event subclass or pass accepts=[...]"
            )
    return tuple(classes)


def emitted_classes(emits: Emits | None, ret: Any) -> tuple[type[Event], ...]:
    named = [e for e in (emits or []) if isinstance(e, type) and issubclass(e, Event)]
    hinted = [
        t
        for t in (_flatten(ret) if ret is not None else [])
        if isinstance(t, type) and issubclass(t, Event) and t is not Event
    ]
    return tuple(dict.fromkeys(named + hinted))


def emits_of(step_name: str, emits: Emits | None, ret: Any) -> tuple[str, ...] | None:
    """Event types a step says it emits, from ``emits=`` or its return annotation."""
    if emits is not None:
        names = []
        for e in emits:
            if isinstance(e, str) and e:
                names.append(e)
            elif isinstance(e, type) and issubclass(e, Event):
                names.append(e.event_type)
            else:
                raise WorkflowValidationError(
                    f"step {step_name!r}: emits= takes event type names or Event classes, got {e!r}"
                )
        return tuple(names)
    if ret is None or ret is Any:
        return None
    found: list[str] = []
    for t in _flatten(ret):
        if t is type(None):
            continue
        if not (isinstance(t, type) and issubclass(t, Event)) or t is Event:
            return None  # not precise enough to validate against
        found.append(t.event_type)
    return tuple(found)


def retry_policy(
    step_name: str, backoff: Any, max_delay: Any, jitter: Any, retry_on: Any
) -> dict[str, Any]:
    """The checked ``retry_*`` options of a step, as ``StepSpec`` fields."""
    bad = isinstance(backoff, bool) or not isinstance(backoff, numbers.Real)
    if bad or not math.isfinite(backoff) or backoff < 1:
        raise WorkflowValidationError(
            f"step {step_name!r}: retry_backoff must be a finite number >= 1 "
            f"(1 keeps the delay fixed, 2 doubles it), got {backoff!r}"
        )
    if max_delay is not None:
        max_delay = seconds_option(step_name, "retry_max_delay", max_delay, allow_zero=False)
    bad = isinstance(jitter, bool) or not isinstance(jitter, numbers.Real)
    if bad or not 0 <= jitter <= 1:
        raise WorkflowValidationError(
            f"step {step_name!r}: retry_jitter must be a fraction between 0 and 1, got {jitter!r}"
        )
    return {
        "retry_backoff": float(backoff),
        "retry_max_delay": max_delay,
        "retry_jitter": float(jitter),
        "retry_on": _exception_types(step_name, retry_on),
    }


def _exception_types(step_name: str, retry_on: Any) -> tuple[type[BaseException], ...]:
    """``retry_on``: ``None`` (every ``Exception``) or a non-empty list of exception classes."""
    if retry_on is None:
        return (Exception,)
    if isinstance(retry_on, type):
        retry_on = (retry_on,)
    if not isinstance(retry_on, (list, tuple)) or not retry_on:
        raise WorkflowValidationError(
            f"step {step_name!r}: retry_on must be a non-empty list of exception classes, "
            f"got {retry_on!r}"
        )
    for cls in retry_on:
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise WorkflowValidationError(
                f"step {step_name!r}: retry_on holds {cls!r}, not an Exception class"
            )
    return tuple(retry_on)
