"""Durable runs show stream events and input requests only once their step's commit landed."""

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
from blazen.stores.memory import MemoryStore
from waiting import next_request


class Progress(Event):
    step_name: str
    n: int


class Next(Event):
    pass


@step
async def first(ctx: Context, ev: StartEvent) -> Next:
    ctx.write_event_to_stream(Progress(step_name="first", n=1))
    ctx.write_event_to_stream(Progress(step_name="first", n=2))
    return Next()


@step
async def second(ctx: Context, ev: Next) -> InputRequestEvent:
    ctx.write_event_to_stream(Progress(step_name="second", n=3))
    return InputRequestEvent(request_id="ok?", prompt="go on?")


@step
async def third(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    ctx.write_event_to_stream(Progress(step_name="third", n=4))
    return StopEvent(result=ev.response)


async def test_stream_events_follow_the_commit_of_their_step() -> None:
    store = MemoryStore()
    wf = Workflow("durable-publish", [first, second, third], store=store)
    handler = await wf.run_with_handler()
    seen: list[tuple[str, int | str]] = []

    async def read() -> None:
        async for ev in handler.stream_events():
            committed = {c.step for c in await store.checkpoints(handler.run_id)}
            if isinstance(ev, InputRequestEvent):
                assert "second" in committed  # the request is shown once its step is durable
                seen.append(("request", ev.request_id))
                await handler.respond_to_input(ev.request_id, "yes")
            else:
                assert isinstance(ev, Progress)
                assert ev.step_name in committed, (ev, committed)
                seen.append((ev.step_name, ev.n))

    await asyncio.wait_for(read(), 10)
    assert (await handler.result()).result == "yes"
    assert seen == [("first", 1), ("first", 2), ("second", 3), ("request", "ok?"), ("third", 4)]
    await store.close()


async def test_a_resumed_durable_run_shows_the_request_it_waits_for() -> None:
    store = MemoryStore()
    wf = Workflow("durable-republish", [first, second, third], store=store)
    handler = await wf.run_with_handler()
    await next_request(handler)
    # Another process takes the run over (the first one went away while waiting).
    other = Workflow("durable-republish", [first, second, third], store=store)
    resumed = await other.resume_run(handler.run_id)
    assert [r.request_id for r in resumed.input_requests()] == ["ok?"]
    request = await next_request(resumed)  # shown again by the run that took over
    assert request.request_id == "ok?"
    await resumed.respond_to_input(request.request_id, "later")
    assert (await resumed.result()).result == "later"
    await store.close()
