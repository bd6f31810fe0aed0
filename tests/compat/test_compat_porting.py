"""Behaviour a program ported from the Rust-core package relies on (found by porting real
programs). Every test here passes on the real package too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


@step
async def first(ctx: Context, ev: StartEvent) -> Any:
    return Event("Mid", n=1)


@step(accepts=["Mid"])
async def second(ctx: Context, ev: Event) -> Any:
    return StopEvent(result=ev.n)


def test_auto_publish_events_streams_the_lifecycle_in_order() -> None:
    async def go() -> list[tuple[str, Any]]:
        wf = Workflow("compat-lifecycle", [first, second], auto_publish_events=True)
        handler = await wf.run_with_handler()
        seen = []
        async for ev in handler.stream_events():
            data = ev.to_dict()
            seen.append((ev.event_type, data.get("kind"), data.get("event_type")))
        assert (await handler.result()).result == 1
        return seen

    assert asyncio.run(go()) == [
        ("blazen::lifecycle", "event_routed", "blazen::StartEvent"),
        ("blazen::lifecycle", "step_started", "blazen::StartEvent"),
        ("blazen::lifecycle", "step_completed", None),
        ("blazen::ProgressEvent", "Workflow", None),
        ("blazen::lifecycle", "event_routed", "Mid"),
        ("blazen::lifecycle", "step_started", "Mid"),
        ("blazen::lifecycle", "step_completed", None),
        ("blazen::ProgressEvent", "Workflow", None),
        ("blazen::lifecycle", "event_routed", "blazen::StopEvent"),
    ]


def test_an_inline_event_may_name_its_type_by_keyword() -> None:
    ev = Event(event_type="Next", v=1)
    assert ev.event_type == "Next"
    assert ev.to_dict() == {"v": 1}


def test_errors_a_ported_program_catches_as_runtime_errors() -> None:
    @step
    async def unroutable(ctx: Context, ev: StartEvent) -> Any:
        return Event("Nobody")

    @step
    async def slow(ctx: Context, ev: StartEvent) -> Any:
        await asyncio.sleep(30)

    async def go() -> None:
        with pytest.raises(RuntimeError):
            await Workflow("compat-unroutable", [unroutable]).run()
        handler = await Workflow("compat-abort", [slow]).run_with_handler()
        await asyncio.sleep(0.05)
        await handler.abort()
        with pytest.raises(RuntimeError):
            await handler.result()

    asyncio.run(go())


def test_resume_in_place_of_a_running_run_does_nothing() -> None:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> Any:
        return Event("blazen::InputRequestEvent", request_id="r", prompt="?", metadata={})

    @step(accepts=["blazen::InputResponseEvent"])
    async def done(ctx: Context, ev: Event) -> Any:
        return StopEvent(result=ev.response)

    async def go() -> Any:
        handler = await Workflow("compat-rip", [wait, done]).run_with_handler()
        await asyncio.sleep(0.05)
        await handler.resume_in_place()
        await handler.respond_to_input("r", "ok")
        return (await handler.result()).result

    assert asyncio.run(go()) == "ok"


def test_a_stored_none_reads_as_absent_in_the_state_namespace() -> None:
    @step
    async def look(ctx: Context, ev: StartEvent) -> Any:
        ctx.state["none"] = None
        ctx.state["zero"] = 0
        missing = False
        try:
            ctx.state["none"]
        except KeyError:
            missing = True
        return StopEvent(result=["none" in ctx.state, "zero" in ctx.state, missing])

    async def go() -> Any:
        return (await Workflow("compat-none", [look]).run()).result

    assert asyncio.run(go()) == [False, True, True]
