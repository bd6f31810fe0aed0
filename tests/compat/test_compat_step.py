"""@step and the _StepWrapper it returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step

from ._util import VALIDATION, payload


@step
async def first(ctx: Context, ev: Event) -> Any:
    return StopEvent(result="first")


@step(accepts=["Ping"], emits=["Pong"], max_concurrency=3)
def configured(ctx: Context, ev: Event) -> Any:
    return StopEvent(result=ev.n)


def test_properties_read_the_options() -> None:
    assert (first.name, first.accepts, first.emits, first.max_concurrency) == (
        "first",
        ["blazen::StartEvent"],
        [],
        0,
    )
    assert (configured.name, configured.accepts, configured.emits) == (
        "configured",
        ["Ping"],
        ["Pong"],
    )
    assert configured.max_concurrency == 3
    assert (
        repr(configured) == """_StepWrapper(name='configured', accepts=["Ping"], emits=["Pong"])"""
    )


class Ping(Event):
    pass


def test_annotated_event_class_sets_accepts() -> None:
    @step
    async def on_ping(ctx: Context, ev: Ping) -> Any:
        return None

    assert on_ping.accepts == ["Ping"]


def test_the_wrapper_calls_the_function() -> None:
    stop = configured(None, Event("Ping", n=4))  # type: ignore[arg-type]
    assert stop.result == 4
    assert asyncio.run(first(None, StartEvent())).result == "first"  # type: ignore[arg-type]


async def test_setters_change_what_the_workflow_routes() -> None:
    @step
    async def entry(ctx: Context, ev: StartEvent) -> Any:
        return Event("Renamed", n=5)

    @step(accepts=["Original"])
    async def target(ctx: Context, ev: Event) -> Any:
        return StopEvent(result=ev.n)

    target.accepts = ["Renamed"]
    target.emits = ("blazen::StopEvent",)
    target.max_concurrency = 2
    assert (target.accepts, target.emits, target.max_concurrency) == (
        ["Renamed"],
        ["blazen::StopEvent"],
        2,
    )
    assert await payload(Workflow("setters", [entry, target])) == 5


@pytest.mark.parametrize(
    ("attr", "value"),
    [("accepts", "Ping"), ("accepts", [1]), ("emits", None), ("max_concurrency", "2")],
)
def test_setters_reject_wrong_types(attr: str, value: Any) -> None:
    with pytest.raises(TypeError):
        setattr(configured, attr, value)


def test_negative_concurrency_is_refused() -> None:
    with pytest.raises((OverflowError, ValueError, *VALIDATION)):
        configured.max_concurrency = -1
    with pytest.raises((OverflowError, ValueError, *VALIDATION)):
        step(max_concurrency=-1)(lambda ctx, ev: None)


def test_name_is_read_only() -> None:
    with pytest.raises(AttributeError):
        first.name = "other"  # type: ignore[misc]


def test_accepts_must_be_a_list() -> None:
    with pytest.raises(TypeError):

        @step(accepts="Ping")  # type: ignore[call-overload]
        async def s(ctx: Context, ev: Event) -> Any:
            return None
