"""``@step`` checks made when a function is decorated."""

from __future__ import annotations

from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, WorkflowValidationError, step
from blazen.step import StepWrapper, get_step_spec


class Ping(Event):
    n: int = 0


def test_decorators_return_a_wrapper_that_still_calls_the_function() -> None:
    def f(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=ev.n)

    for wrapped in (step(f), step(retries=1)(f)):
        assert isinstance(wrapped, StepWrapper)
        assert wrapped.__wrapped__ is f
        assert wrapped.__name__ == "f"
        assert wrapped(None, StartEvent(n=3)).result == 3  # type: ignore[arg-type]
        assert get_step_spec(wrapped).fn is f  # type: ignore[union-attr]


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

    assert step(accepts=["Ping"])(s).accepts == ["Ping"]


def test_wrapper_properties_read_the_options() -> None:
    @step(accepts=["Ping"], emits=["Pong"], max_concurrency=3)
    def s(ctx: Context, ev: Event) -> None:
        return None

    @step
    async def bare(ctx: Context, ev: Event) -> None:
        return None

    assert (s.name, s.accepts, s.emits, s.max_concurrency) == ("s", ["Ping"], ["Pong"], 3)
    assert (bare.accepts, bare.emits, bare.max_concurrency) == (["blazen::StartEvent"], [], 0)
    assert repr(s) == """_StepWrapper(name='s', accepts=["Ping"], emits=["Pong"])"""


def test_wrapper_setters_change_the_spec_a_workflow_uses() -> None:
    @step
    async def s(ctx: Context, ev: Event) -> None:
        return None

    before = get_step_spec(s)
    s.accepts = ("Ping",)
    s.emits = ["Ping"]
    s.max_concurrency = 2
    spec = get_step_spec(s)
    assert spec is not before
    assert before.accepts == ("blazen::StartEvent",)  # type: ignore[union-attr]
    assert (spec.accepts, spec.emits, spec.max_concurrency) == (("Ping",), ("Ping",), 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("attr", "value", "error"),
    [
        ("accepts", "Ping", TypeError),
        ("accepts", [1], TypeError),
        ("accepts", [], WorkflowValidationError),
        ("accepts", [""], WorkflowValidationError),
        ("emits", None, TypeError),
        ("max_concurrency", "2", TypeError),
        ("max_concurrency", True, TypeError),
        ("max_concurrency", -1, WorkflowValidationError),
    ],
)
def test_wrapper_setters_check_their_values(attr: str, value: Any, error: type) -> None:
    @step
    async def s(ctx: Context, ev: Event) -> None:
        return None

    with pytest.raises(error, match="'s'"):
        setattr(s, attr, value)
    with pytest.raises(AttributeError):
        s.name = "other"  # type: ignore[misc]


def test_redecorating_a_step_replaces_its_options() -> None:
    @step(max_concurrency=1)
    async def s(ctx: Context, ev: Event) -> None:
        return None

    again = step(accepts=["Ping"])(s)
    assert again.accepts == ["Ping"]
    assert again.max_concurrency == 0
    assert again.__wrapped__ is s.__wrapped__


def test_option_type_errors_are_type_errors_and_validation_errors() -> None:
    async def s(ctx: Context, ev: Event) -> None:
        return None

    for options in ({"accepts": "Ping"}, {"max_concurrency": "1"}):
        with pytest.raises(TypeError) as info:
            step(**options)(s)  # type: ignore[call-overload]
        assert isinstance(info.value, WorkflowValidationError)
