"""``@step`` checks made when a function is decorated."""

from __future__ import annotations

from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, WorkflowValidationError, step


class Ping(Event):
    n: int = 0


def test_bare_and_configured_decorators_return_the_function() -> None:
    async def f(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=1)

    assert step(f) is f
    assert step(retries=1)(f) is f


@pytest.mark.parametrize(
    "source",
    [
        "async def s(ctx): ...",
        "async def s(): ...",
        "async def s(ctx, ev, extra): ...",
        "async def s(ctx, ev, *, flag): ...",
        "def s(*args): ...",
    ],
)
def test_bad_signature_is_rejected_at_decoration(source: str) -> None:
    ns: dict[str, Any] = {}
    exec(source, ns)
    with pytest.raises(WorkflowValidationError, match="'s'"):
        step(ns["s"])


def test_optional_extra_parameters_are_fine() -> None:
    @step
    async def s(ctx: Context, ev: Ping, scale: int = 2, *, flag: bool = False) -> None:
        return None

    assert callable(s)


@pytest.mark.parametrize("annotation", [int, str, "list[int]", "Ping | int"])
def test_non_event_annotation_is_rejected(annotation: Any) -> None:
    async def s(ctx: Context, ev: Any) -> None:
        return None

    s.__annotations__["ev"] = annotation
    with pytest.raises(WorkflowValidationError, match="not an Event type"):
        step(s)


def test_wrong_annotation_is_accepted_with_explicit_accepts() -> None:
    @step(accepts=["Ping"])
    async def s(ctx: Context, ev: dict) -> None:  # type: ignore[type-arg]
        return None

    assert callable(s)


@pytest.mark.parametrize(
    "options",
    [
        {"accepts": []},
        {"accepts": [""]},
        {"accepts": [Ping]},
        {"emits": [42]},
        {"emits": [""]},
        {"max_concurrency": -1},
        {"max_concurrency": 1.5},
        {"retries": -1},
        {"retry_delay": -0.1},
        {"timeout": 0},
        {"timeout": -1.0},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    async def s(ctx: Context, ev: Ping) -> None:
        return None

    with pytest.raises(WorkflowValidationError, match="'s'"):
        step(**options)(s)


def test_a_non_function_is_rejected() -> None:
    with pytest.raises(WorkflowValidationError):
        step(42)  # type: ignore[call-overload]


def test_locally_defined_event_annotation_resolves() -> None:
    # With postponed annotations the "Local" string is resolved in the decorating scope.
    class Local(Event):
        x: int

    @step
    async def s(ctx: Context, ev: Local) -> None:
        return None

    assert callable(s)


def test_unresolvable_annotation_is_an_error_not_a_start_event() -> None:
    # With postponed annotations a typo (or a class defined later) is only a string; it
    # must not silently turn the step into a StartEvent acceptor.
    async def typo(ctx: Context, ev: Pign) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    with pytest.raises(WorkflowValidationError, match="'Pign'"):
        step(typo)

    async def later(ctx: Context, ev: DefinedBelow) -> None:
        return None

    with pytest.raises(WorkflowValidationError, match="cannot resolve"):
        step(later)

    class DefinedBelow(Event):
        pass


def test_unresolvable_annotation_is_fine_with_accepts() -> None:
    async def s(ctx: Context, ev: Pign) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    assert step(accepts=["Ping"])(s) is s
