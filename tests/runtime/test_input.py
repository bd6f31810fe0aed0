"""Human in the loop (without pausing): InputRequestEvent and respond_to_input."""

from __future__ import annotations

import asyncio

import pytest

from blazen import (
    Context,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowError,
    step,
)
from waiting import until


@step
async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    ctx.set("question", ev.question)
    return InputRequestEvent(request_id="q1", prompt=ev.question, metadata={"step": "ask"})


@step
async def answer(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    return StopEvent(result=f"{ctx.get('question')} -> {ev.response} ({ev.request_id})")


async def next_request(handler) -> InputRequestEvent:  # type: ignore[no-untyped-def]
    async for ev in handler.stream_events():
        if isinstance(ev, InputRequestEvent):
            return ev
    raise AssertionError("the run ended without asking")


async def test_request_and_respond() -> None:
    handler = await Workflow("hitl", [ask, answer]).run_with_handler(question="name?")
    req = await asyncio.wait_for(next_request(handler), 2)
    assert (req.request_id, req.prompt, req.metadata) == ("q1", "name?", {"step": "ask"})
    await until(lambda: handler.status == "waiting", "the run waits for input")
    assert handler.input_requests() == [req]  # waiting is not a stall: the answer is taken
    await handler.respond_to_input("q1", "Ada")
    stop = await asyncio.wait_for(handler.result(), 2)
    assert stop.result == "name? -> Ada (q1)"


async def test_respond_to_an_unknown_request() -> None:
    handler = await Workflow("hitl-unknown", [ask, answer]).run_with_handler(question="q")
    await asyncio.wait_for(next_request(handler), 2)
    with pytest.raises(WorkflowError, match="'nope'"):
        await handler.respond_to_input("nope", 1)
    await handler.respond_to_input("q1", 2)
    assert (await handler.result()).result == "q -> 2 (q1)"


async def test_respond_after_the_run_ended() -> None:
    handler = await Workflow("hitl-ended", [ask, answer]).run_with_handler(question="q")
    await asyncio.wait_for(next_request(handler), 2)
    await handler.respond_to_input("q1", "x")
    await handler.result()
    with pytest.raises(WorkflowError, match="is completed; it cannot take input"):
        await handler.respond_to_input("q1", "again")
