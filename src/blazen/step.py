"""``@step``: turns a function into a step whose ``ev`` annotation decides what it receives."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import numbers
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar, Union, overload

from blazen.errors import WorkflowValidationError
from blazen.events import Event, StartEvent

__all__ = ["StepTypeError", "StepSpec", "StepWrapper", "get_step_spec", "step"]

P = ParamSpec("P")
R = TypeVar("R")
_Names: TypeAlias = "list[str] | tuple[str, ...]"
_Emits: TypeAlias = "list[str | type[Event]] | tuple[str | type[Event], ...]"
_ATTR = "__blazen_step__"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """Everything the runtime needs to know about one step, fixed when it is decorated."""

    name: str
    fn: Callable[..., Any]
    accepts: tuple[str, ...]
    event_classes: tuple[type[Event], ...]
    emits: tuple[str, ...] | None
    is_async: bool
    max_concurrency: int = 0
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None


class StepTypeError(WorkflowValidationError, TypeError):
    """Not a step, or a step option (or step property) given a value of the wrong type."""


class StepWrapper(Generic[P, R]):
    """What ``@step`` returns: the function, callable as before, plus its step options.

    ``name``, ``accepts``, ``emits`` and ``max_concurrency`` read the step's options, and all
    but ``name`` can be reassigned before the step is put into a ``Workflow``, as with the
    Rust-core package's ``_StepWrapper``.
    """

    def __init__(self, spec: StepSpec) -> None:
        self.__blazen_step__ = spec
        functools.update_wrapper(self, spec.fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return typing.cast("R", self.__blazen_step__.fn(*args, **kwargs))

    @property
    def name(self) -> str:
        """The step's name (the function's, unless ``@step(name=...)``)."""
        return self.__blazen_step__.name

    @property
    def accepts(self) -> list[str]:
        """The event type names the step receives."""
        return list(self.__blazen_step__.accepts)

    @accepts.setter
    def accepts(self, value: Sequence[str]) -> None:
        names = _name_values(self.name, "accepts", value)
        if not names:
            raise WorkflowValidationError(f"step {self.name!r}: accepts cannot be empty")
        self._replace(accepts=names)

    @property
    def emits(self) -> list[str]:
        """The event type names the step says it emits (``[]`` when it does not say)."""
        return list(self.__blazen_step__.emits or ())

    @emits.setter
    def emits(self, value: Sequence[str]) -> None:
        self._replace(emits=_name_values(self.name, "emits", value))

    @property
    def max_concurrency(self) -> int:
        """How many calls of the step may run at once (0 = unlimited)."""
        return self.__blazen_step__.max_concurrency

    @max_concurrency.setter
    def max_concurrency(self, value: int) -> None:
        self._replace(max_concurrency=_count_option(self.name, "max_concurrency", value))

    def _replace(self, **changes: Any) -> None:
        self.__blazen_step__ = dataclasses.replace(self.__blazen_step__, **changes)

    def __repr__(self) -> str:
        return (
            f"_StepWrapper(name={self.name!r}, accepts={json.dumps(self.accepts)}, "
            f"emits={json.dumps(self.emits)})"
        )


_StepWrapper = StepWrapper


def _name_values(step_name: str, option: str, value: Any) -> tuple[str, ...]:
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


@overload
def step(fn: Callable[P, R], /) -> StepWrapper[P, R]: ...


@overload
def step(
    *,
    accepts: _Names | None = None,
    emits: _Emits | None = None,
    max_concurrency: int = 0,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    name: str | None = None,
) -> Callable[[Callable[P, R]], StepWrapper[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    accepts: _Names | None = None,
    emits: _Emits | None = None,
    max_concurrency: int = 0,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    name: str | None = None,
) -> StepWrapper[P, R] | Callable[[Callable[P, R]], StepWrapper[P, R]]:
    """Make ``fn(ctx, ev)`` a workflow step. Usable bare (``@step``) or with options.

    Returns a :class:`StepWrapper`; calling it calls ``fn``. Decorating a step again
    replaces its options.
    """
    caller_locals = sys._getframe(1).f_locals

    def decorate(func: Callable[P, R]) -> StepWrapper[P, R]:
        if isinstance(func, StepWrapper):
            func = func.__blazen_step__.fn
        spec = _build_spec(
            func,
            caller_locals,
            accepts,
            emits,
            max_concurrency,
            retries,
            retry_delay,
            timeout,
            name,
        )
        return StepWrapper(spec)

    return decorate(fn) if fn is not None else decorate


def get_step_spec(obj: object) -> StepSpec | None:
    """The current ``StepSpec`` of a step (or of a function wrapping one), or ``None``."""
    spec = getattr(obj, _ATTR, None)
    return spec if isinstance(spec, StepSpec) else None


def _build_spec(
    fn: Callable[..., Any],
    caller_locals: dict[str, Any],
    accepts: _Names | None,
    emits: _Emits | None,
    max_concurrency: int,
    retries: int,
    retry_delay: float,
    timeout: float | None,
    name: str | None,
) -> StepSpec:
    if name is not None and (not isinstance(name, str) or not name):
        raise WorkflowValidationError(f"@step: name= must be a non-empty str, got {name!r}")
    step_name = name or getattr(fn, "__name__", None) or repr(fn)
    if not callable(fn):
        raise WorkflowValidationError(f"@step needs a function, got {type(fn).__name__}")
    ev_param = _check_signature(fn, step_name)
    max_concurrency = _count_option(step_name, "max_concurrency", max_concurrency)
    retries = _count_option(step_name, "retries", retries)
    retry_delay = _seconds_option(step_name, "retry_delay", retry_delay, allow_zero=True)
    if timeout is not None:
        timeout = _seconds_option(step_name, "timeout", timeout, allow_zero=False)
    accepts = _name_list(step_name, "accepts", accepts, "['Analyze']")
    emits = _name_list(step_name, "emits", emits, "['Analyze'] or [AnalyzeEvent]")
    hints = _type_hints(fn, caller_locals)
    if accepts is not None:
        if not accepts or not all(isinstance(a, str) and a for a in accepts):
            raise WorkflowValidationError(
                f"step {step_name!r}: accepts= must be a non-empty list of event type names"
            )
        accept_names, classes = tuple(accepts), _event_classes(hints.get(ev_param))
    else:
        classes = _event_classes(hints.get(ev_param), step_name) or (StartEvent,)
        accept_names = tuple(c.event_type for c in classes)
    emitted = _emits(step_name, emits, hints.get("return"))
    return StepSpec(
        name=step_name,
        fn=fn,
        accepts=accept_names,
        event_classes=classes + _emitted_classes(emits, hints.get("return")),
        emits=emitted,
        is_async=inspect.iscoroutinefunction(fn),
        max_concurrency=max_concurrency,
        retries=retries,
        retry_delay=retry_delay,
        timeout=timeout,
    )


def _check_signature(fn: Callable[..., Any], step_name: str) -> str:
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


def _name_list(step_name: str, option: str, value: Any, example: str) -> Any:
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


def _count_option(step_name: str, option: str, value: Any) -> int:
    """A count option: an int (not a bool) >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise StepTypeError(f"step {step_name!r}: {option} must be an int >= 0, got {value!r}")
    if value < 0:
        raise WorkflowValidationError(
            f"step {step_name!r}: {option} must be an int >= 0, got {value!r}"
        )
    return int(value)


def _seconds_option(step_name: str, option: str, value: Any, *, allow_zero: bool) -> float:
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


def _type_hints(fn: Callable[..., Any], caller_locals: dict[str, Any]) -> dict[str, Any]:
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


def _event_classes(hint: Any, step_name: str | None = None) -> tuple[type[Event], ...]:
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


def _emitted_classes(emits: _Emits | None, ret: Any) -> tuple[type[Event], ...]:
    named = [e for e in (emits or []) if isinstance(e, type) and issubclass(e, Event)]
    hinted = [
        t
        for t in (_flatten(ret) if ret is not None else [])
        if isinstance(t, type) and issubclass(t, Event) and t is not Event
    ]
    return tuple(dict.fromkeys(named + hinted))


def _emits(step_name: str, emits: _Emits | None, ret: Any) -> tuple[str, ...] | None:
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
