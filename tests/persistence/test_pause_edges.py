"""Pause and snapshot at awkward moments: failures leave the run going, no hangs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    PauseError,
    SessionPauseError,
    SnapshotError,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)


class Go(Event):
    pass


class Carry(Event):
    lock: object


async def test_a_pause_whose_snapshot_fails_leaves_the_run_running() -> None:
    gate = asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Go:
        return Go()

    @step
    async def make(ctx: Context, ev: Go) -> Carry:
        await gate.wait()
        return Carry(lock=threading.Lock())  # cannot be put into a snapshot

    @step
    async def use(ctx: Context, ev: Carry) -> StopEvent:
        return StopEvent(result="done")

    handler = await Workflow("pause-fails", [begin, make, use]).run_with_handler()
    await asyncio.sleep(0.01)
    pausing = asyncio.ensure_future(handler.pause())
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(SnapshotError, match="Carry"):
        await pausing
    assert (await asyncio.wait_for(handler.result(), 5)).result == "done"


async def test_two_pauses_at_once_get_the_same_snapshot() -> None:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.set("x", 1)
        return InputRequestEvent(request_id="r")

    @step
    async def end(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ctx.get("x"))

    wf = Workflow("double-pause", [wait, end])
    handler = await wf.run_with_handler()
    await asyncio.sleep(0.01)
    first, second = await asyncio.wait_for(asyncio.gather(handler.pause(), handler.pause()), 5)
    assert first is second
    assert await handler.pause() is first  # and again, once paused
    resumed = await wf.resume(first)
    await resumed.respond_to_input("r", None)
    assert (await resumed.result()).result == 1


async def test_snapshot_follows_the_session_policy_and_refuses_finished_runs() -> None:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.session.set("conn", {"picklable": True})
        if ev.lock:
            ctx.session.set("lock", threading.Lock())
        return InputRequestEvent(request_id="r")

    @step
    async def end(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ctx.session.get("conn"))

    wf = Workflow("snapshot-session", [wait, end])
    handler = await wf.run_with_handler(lock=False)
    await asyncio.sleep(0.01)
    snapshot = await handler.take_snapshot()
    assert "__blazen_session__.conn" in snapshot.context_state
    resumed = await wf.resume(snapshot)
    await resumed.respond_to_input("r", None)
    assert (await resumed.result()).result == {"picklable": True}

    locked = await wf.run_with_handler(lock=True)
    await asyncio.sleep(0.01)
    with pytest.raises(SessionPauseError, match="lock"):
        await locked.take_snapshot()
    await locked.respond_to_input("r", None)
    await locked.result()
    with pytest.raises(SessionPauseError, match="lock"):
        await locked.snapshot()  # a completed run's snapshot follows the policy too


async def test_a_session_value_that_cannot_be_unpickled_is_a_snapshot_error() -> None:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        return InputRequestEvent(request_id="r")

    @step
    async def end(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent()

    wf = Workflow("bad-session", [wait, end])
    handler = await wf.run_with_handler()
    await asyncio.sleep(0.01)
    snapshot = await handler.pause()
    from blazen import StateValue

    snapshot.context_state["__blazen_session__.gone"] = StateValue.Native(
        b"\x80\x04\x95\x18\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x04Gone\x94\x93\x94."
    )
    with pytest.raises(SnapshotError, match="'gone'"):
        await wf.resume(snapshot)


async def test_a_second_pause_while_steps_finish_shares_the_first() -> None:
    gate = asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Go:
        return Go()

    @step
    async def slow(ctx: Context, ev: Go) -> StopEvent:
        await gate.wait()
        return StopEvent(result="never")  # the StopEvent of a pausing run still ends it

    @step
    async def never(ctx: Context, ev: Carry) -> None:
        return None

    handler = await Workflow("pause-while-busy", [begin, slow, never]).run_with_handler()
    await asyncio.sleep(0.01)
    first = asyncio.ensure_future(handler.pause())
    second = asyncio.ensure_future(handler.pause())
    await asyncio.sleep(0.01)
    assert not first.done()
    assert not second.done()
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert results == [None, None]  # the run ended meanwhile: not an error, no snapshot
    assert (await handler.result()).result == "never"


async def test_a_run_that_completes_while_pausing_keeps_its_result_and_snapshot() -> None:
    gate = asyncio.Event()

    @step
    async def slow(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.set("started", True)
        await gate.wait()
        return StopEvent(result={"done": True})

    wf = Workflow("complete-while-pausing", [slow])
    handler = await wf.run_with_handler()
    await asyncio.sleep(0)  # the step starts and waits at the gate
    pausing = asyncio.ensure_future(handler.pause())
    await asyncio.sleep(0)
    gate.set()
    assert await pausing is None  # not an error: the run completed meanwhile
    assert await handler.pause() is None  # nor is a later pause
    await handler.resume_in_place()  # nothing left to continue: returns at once
    assert (await handler.result()).result == {"done": True}
    snapshot_json = await handler.snapshot()  # the final state, its ending as the pending event
    assert '"started":{"Json":true}' in snapshot_json
    resumed = await Workflow.resume(snapshot_json)
    assert (await resumed.result()).result == {"done": True}


async def test_resume_in_place_needs_a_paused_run() -> None:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        return InputRequestEvent(request_id="r")

    @step
    async def end(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ev.response)

    handler = await Workflow("resume-in-place-live", [wait, end]).run_with_handler()
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break
    with pytest.raises(PauseError, match="only a paused run can resume in place"):
        await handler.resume_in_place()
    await handler.respond_to_input("r", 5)
    assert (await handler.result()).result == 5
