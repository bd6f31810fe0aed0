"""A small durable workflow for the server backends' engine tests: ticks, one input request."""

from __future__ import annotations

import asyncio

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)


class Tick(Event):
    i: int


@step
async def tick_start(ctx: Context, ev: StartEvent) -> Tick:
    ctx.set("label", ev.label)
    ctx.set("ask", getattr(ev, "ask", False))
    return Tick(i=0)


@step
async def tick(ctx: Context, ev: Tick) -> Tick | StopEvent | InputRequestEvent:
    ctx.set("last", ev.i)
    if ev.i == 3 and ctx.get("ask"):
        ctx.set("ask", False)
        return InputRequestEvent(request_id="more", prompt="continue?")
    if ev.i >= 5:
        return StopEvent(result={"label": ctx.get("label"), "last": ev.i})
    return Tick(i=ev.i + 1)


@step
async def tick_answer(ctx: Context, ev: InputResponseEvent) -> Tick:
    ctx.set("answer", ev.response)
    return Tick(i=4)


STEPS = [tick_start, tick, tick_answer]


async def paused_run(wf: Workflow, label: str) -> str:
    """Start a run that asks for input, pause it once it waits; its run id."""
    handler = await wf.run_with_handler(label=label, ask=True)
    for _ in range(400):
        if handler._run.waiting:
            break
        await asyncio.sleep(0.005)
    await handler.pause()
    return handler.run_id
