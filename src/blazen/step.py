"""``@step``: turns a function into a step whose ``ev`` annotation decides what it receives."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar, overload

from blazen._step_options import (
    Emits,
    StepTypeError,
    check_signature,
    count_option,
    emits_of,
    emitted_classes,
    event_classes,
    name_list,
    name_values,
    retry_policy,
    seconds_option,
    type_hints,
)
from blazen.errors import WorkflowValidationError
from blazen.events import Event, StartEvent

__all__ = ["StepTypeError", "StepSpec", "StepWrapper", "get_step_spec", "step"]

P = ParamSpec("P")
R = TypeVar("R")
_Names: TypeAlias = "list[str] | tuple[str, ...]"
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
    retry_backoff: float = 1.0
    retry_max_delay: float | None = None
    retry_jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)


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
        names = name_values(self.name, "accepts", value)
        if not names:
            raise WorkflowValidationError(f"step {self.name!r}: accepts cannot be empty")
        self._replace(accepts=names)

    @property
    def emits(self) -> list[str]:
        """The event type names the step says it emits (``[]`` when it does not say)."""
        return list(self.__blazen_step__.emits or ())

    @emits.setter
    def emits(self, value: Sequence[str]) -> None:
        self._replace(emits=name_values(self.name, "emits", value))

    @property
    def max_concurrency(self) -> int:
        """How many calls of the step may run at once (0 = unlimited)."""
        return self.__blazen_step__.max_concurrency

    @max_concurrency.setter
    def max_concurrency(self, value: int) -> None:
        self._replace(max_concurrency=count_option(self.name, "max_concurrency", value))

    def _replace(self, **changes: Any) -> None:
        self.__blazen_step__ = dataclasses.replace(self.__blazen_step__, **changes)

    def __repr__(self) -> str:
        return (
            f"_StepWrapper(name={self.name!r}, accepts={json.dumps(self.accepts)}, "
            f"emits={json.dumps(self.emits)})"
        )


_StepWrapper = StepWrapper


@overload
def step(fn: Callable[P, R], /) -> StepWrapper[P, R]: ...


@overload
def step(
    *,
    accepts: _Names | None = None,
    emits: Emits | None = None,
    max_concurrency: int = 0,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    name: str | None = None,
    retry_backoff: float = 1.0,
    retry_max_delay: float | None = None,
    retry_jitter: float = 0.0,
    retry_on: Sequence[type[BaseException]] | None = None,
) -> Callable[[Callable[P, R]], StepWrapper[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    accepts: _Names | None = None,
    emits: Emits | None = None,
    max_concurrency: int = 0,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    name: str | None = None,
    retry_backoff: float = 1.0,
    retry_max_delay: float | None = None,
    retry_jitter: float = 0.0,
    retry_on: Sequence[type[BaseException]] | None = None,
) -> StepWrapper[P, R] | Callable[[Callable[P, R]], StepWrapper[P, R]]:
    """Make ``fn(ctx, ev)`` a workflow step. Usable bare (``@step``) or with options.

    Returns a :class:`StepWrapper`; calling it calls ``fn``. Decorating a step again
    replaces its options. Retries: a failed attempt runs again up to ``retries`` times,
    after ``retry_delay`` seconds multiplied by ``retry_backoff`` at each further retry,
    capped at ``retry_max_delay``, with up to ``retry_jitter`` (a fraction) of each delay
    taken off at random; only exceptions of the ``retry_on`` types are retried.
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
        policy = retry_policy(spec.name, retry_backoff, retry_max_delay, retry_jitter, retry_on)
        return StepWrapper(dataclasses.replace(spec, **policy))

    return decorate(fn) if fn is not None else decorate


def get_step_spec(obj: object) -> StepSpec | None:
    """The current ``StepSpec`` of a step (or of a function wrapping one), or ``None``."""
    spec = getattr(obj, _ATTR, None)
    return spec if isinstance(spec, StepSpec) else None


def _build_spec(
    fn: Callable[..., Any],
    caller_locals: dict[str, Any],
    accepts: _Names | None,
    emits: Emits | None,
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
    ev_param = check_signature(fn, step_name)
    max_concurrency = count_option(step_name, "max_concurrency", max_concurrency)
    retries = count_option(step_name, "retries", retries)
    retry_delay = seconds_option(step_name, "retry_delay", retry_delay, allow_zero=True)
    if timeout is not None:
        timeout = seconds_option(step_name, "timeout", timeout, allow_zero=False)
    accepts = name_list(step_name, "accepts", accepts, "['Analyze']")
    emits = name_list(step_name, "emits", emits, "['Analyze'] or [AnalyzeEvent]")
    hints = type_hints(fn, caller_locals)
    if accepts is not None:
        if not accepts or not all(isinstance(a, str) and a for a in accepts):
            raise WorkflowValidationError(
                f"step {step_name!r}: accepts= must be a non-empty list of event type names"
            )
        accept_names, classes = tuple(accepts), event_classes(hints.get(ev_param))
    else:
        classes = event_classes(hints.get(ev_param), step_name) or (StartEvent,)
        accept_names = tuple(c.event_type for c in classes)
    emitted = emits_of(step_name, emits, hints.get("return"))
    return StepSpec(
        name=step_name,
        fn=fn,
        accepts=accept_names,
        event_classes=classes + emitted_classes(emits, hints.get("return")),
        emits=emitted,
        is_async=inspect.iscoroutinefunction(fn),
        max_concurrency=max_concurrency,
        retries=retries,
        retry_delay=retry_delay,
        timeout=timeout,
    )
