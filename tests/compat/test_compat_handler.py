"""WorkflowHandler (pause, snapshot, resume, input, abort) and WorkflowSnapshot."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

import blazen
from blazen import (
    Context,
    Event,
    InputResponseEvent,
    StartEvent,
    StateValue,
    StopEvent,
    Workflow,
    WorkflowSnapshot,
    step,
)

from ._util import until_snapshot_mentions


class Gate:
    """A step that records a value, says it started, and waits to be let go."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()

        @step
        async def gated(ctx: Context, ev: StartEvent) -> Any:
            ctx.set("key", "value")
            self.started.set()
            await self.go.wait()
            return StopEvent(result={"done": ev.n})

        self.step = gated


@step
async def ask(ctx: Context, ev: StartEvent) -> Any:
    ctx.set("question", ev.q)
    return Event("blazen::InputRequestEvent", request_id="req-1", prompt="name?", metadata={})


@step(accepts=["blazen::InputResponseEvent"])
async def answer(ctx: Context, ev: Event) -> Any:
    return StopEvent(result={"got": ev.response, "q": ctx.get("question"), "rid": ctx.run_id()})


async def waiting_for_input(name: str) -> Any:
    """A run paused while it waits for input ``req-1`` (no step is running then)."""
    handler = await Workflow(name, [ask, answer]).run_with_handler(q="who?")
    await until_snapshot_mentions(handler, '"req-1"')
    await handler.pause()
    return handler


async def test_pause_snapshot_then_resume_in_place() -> None:
    handler = await waiting_for_input("pause")
    snap = await handler.snapshot()
    assert isinstance(snap, str)
    data = json.loads(snap)
    assert {"version", "workflow_name", "run_id", "timestamp", "context_state"} <= set(data)
    assert {"collected_events", "pending_events", "metadata"} <= set(data)
    assert data["workflow_name"] == "pause"
    assert data["context_state"]["question"] == {"Json": "who?"}
    await handler.resume_in_place()
    await handler.respond_to_input("req-1", "Ada")
    result = await handler.result()
    assert isinstance(result, blazen.WorkflowResult)
    assert result.result["got"] == "Ada"


async def test_workflow_snapshot_methods() -> None:
    handler = await waiting_for_input("snap")
    text = await handler.snapshot()
    snap = WorkflowSnapshot.from_json(text)
    assert (snap.version, snap.workflow_name) == (1, "snap")
    assert snap.run_id == json.loads(text)["run_id"]
    assert isinstance(snap.timestamp, str)
    state = snap.context_state()
    assert isinstance(state["question"], StateValue)
    assert state["question"].as_json() == "who?"
    assert isinstance(snap.collected_events(), dict)
    assert isinstance(snap.pending_events(), list)
    assert isinstance(snap.metadata(), dict)
    assert json.loads(snap.to_json()) == json.loads(text)
    assert json.loads(snap.to_json_pretty()) == json.loads(text)
    assert "\n" in snap.to_json_pretty()
    packed = snap.to_msgpack()
    for data in (packed, bytes(packed), list(bytes(packed))):
        again = WorkflowSnapshot.from_msgpack(data)
        assert (again.run_id, again.workflow_name) == (snap.run_id, "snap")
    assert isinstance(repr(snap), str)
    await handler.abort()


@pytest.mark.parametrize("bad", ["{", "{}", "[]"])
def test_bad_snapshot_json_is_refused(bad: str) -> None:
    with pytest.raises(Exception, match=r"(?i)snapshot|serializ|missing|invalid|EOF|expected"):
        WorkflowSnapshot.from_json(bad)


async def test_human_in_the_loop_and_resume_from_json() -> None:
    handler = await waiting_for_input("hitl")
    text = await handler.snapshot()
    await handler.abort()
    with contextlib.suppress(Exception):
        await handler.result()
    for resume in (Workflow.resume, Workflow.resume_with_session_refs):
        resumed = await resume(text, [ask, answer], timeout=30.0)
        await resumed.respond_to_input("req-1", {"name": "Ada"})
        result = (await resumed.result()).result
        assert result["got"] == {"name": "Ada"}
        assert result["q"] == "who?"
        assert result["rid"] == json.loads(text)["run_id"]


async def test_respond_to_input_takes_a_response_event() -> None:
    handler = await Workflow("hitl-event", [ask, answer]).run_with_handler(q="x")
    await until_snapshot_mentions(handler, '"req-1"')
    await handler.respond_to_input(InputResponseEvent("req-1", "as an event"))
    assert (await handler.result()).result["got"] == "as an event"


async def test_stream_events_in_order() -> None:
    @step
    async def produce(ctx: Context, ev: StartEvent) -> Any:
        for i in range(3):
            ctx.write_event_to_stream(Event("Progress", i=i))
        return StopEvent(result="done")

    handler = await Workflow("stream", [produce]).run_with_handler()
    seen = [ev.i async for ev in handler.stream_events() if ev.event_type == "Progress"]
    assert seen == [0, 1, 2]
    assert (await handler.result()).result == "done"


async def test_abort_makes_the_result_raise() -> None:
    gate = Gate()
    handler = await Workflow("abort", [gate.step]).run_with_handler(n=3)
    await gate.started.wait()
    await handler.abort()
    with pytest.raises(Exception):  # noqa: B017 (the two packages word it differently)
        await handler.result()


async def test_usage_and_cost_are_zero_without_llm_calls() -> None:
    gate = Gate()
    handler = await Workflow("usage", [gate.step]).run_with_handler(n=4)
    await gate.started.wait()
    usage = await handler.usage_total()
    assert (usage.prompt_tokens, usage.total_tokens) == (0, 0)
    assert await handler.cost_total_usd() == 0.0
    gate.go.set()
    await handler.result()
