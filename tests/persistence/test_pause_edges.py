"""Pause and snapshot at awkward moments: failures leave the run going, no hangs."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    RunStalledError,
    SessionPauseError,
    SnapshotError,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowSnapshot,
    step,
)
from blazen._meta import ENGINE, ENGINE_KEY
from blazen.session_refs import SERIALIZED_REFS_KEY

sys.path.insert(0, str(Path(__file__).parent))
from waiting import next_request, turns


class Go(Event):
    pass


class Carry(Event):
    lock: object


async def test_a_pause_whose_snapshot_fails_leaves_the_run_running() -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Go:
        return Go()

    @step
    async def make(ctx: Context, ev: Go) -> Carry:
        started.set()
        await gate.wait()
        return Carry(lock=threading.Lock())  # cannot be put into a snapshot

    @step
    async def use(ctx: Context, ev: Carry) -> StopEvent:
        return StopEvent(result="done")

    handler = await Workflow("pause-fails", [begin, make, use]).run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    pausing = asyncio.ensure_future(handler.pause())
    await turns()
    assert not pausing.done()  # waits for ``make``
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
    await next_request(handler)
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
    await next_request(handler)
    snapshot = await handler.take_snapshot()
    assert "__blazen_session__.conn" in snapshot.context_state
    resumed = await wf.resume(snapshot)
    await resumed.respond_to_input("r", None)
    assert (await resumed.result()).result == {"picklable": True}

    locked = await wf.run_with_handler(lock=True)
    await next_request(locked)
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
    await next_request(handler)
    snapshot = await handler.pause()
    from blazen import StateValue

    snapshot.context_state["__blazen_session__.gone"] = StateValue.Native(
        b"\x80\x04\x95\x18\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x04Gone\x94\x93\x94."
    )
    with pytest.raises(SnapshotError, match="'gone'"):
        await wf.resume(snapshot)


async def test_a_second_pause_while_steps_finish_shares_the_first() -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Go:
        return Go()

    @step
    async def slow(ctx: Context, ev: Go) -> StopEvent:
        started.set()
        await gate.wait()
        return StopEvent(result="never")  # the StopEvent of a pausing run still ends it

    @step
    async def never(ctx: Context, ev: Carry) -> None:
        return None

    handler = await Workflow("pause-while-busy", [begin, slow, never]).run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    first = asyncio.ensure_future(handler.pause())
    second = asyncio.ensure_future(handler.pause())
    await turns()
    assert not first.done()
    assert not second.done()
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert results == [None, None]  # the run ended meanwhile: not an error, no snapshot
    assert (await handler.result()).result == "never"


async def test_a_run_that_completes_while_pausing_keeps_its_result_and_snapshot() -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    @step
    async def slow(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.set("started", True)
        started.set()
        await gate.wait()
        return StopEvent(result={"done": True})

    wf = Workflow("complete-while-pausing", [slow])
    handler = await wf.run_with_handler()
    await asyncio.wait_for(started.wait(), 5)  # the step waits at the gate
    pausing = asyncio.ensure_future(handler.pause())
    await turns()
    assert not pausing.done()
    gate.set()
    assert await pausing is None  # not an error: the run completed meanwhile
    assert await handler.pause() is None  # nor is a later pause
    await handler.resume_in_place()  # nothing left to continue: returns at once
    assert (await handler.result()).result == {"done": True}
    snapshot_json = await handler.snapshot()  # the final state, its ending as the pending event
    assert '"started":{"Json":true}' in snapshot_json
    resumed = await Workflow.resume(snapshot_json)
    assert (await resumed.result()).result == {"done": True}


async def test_resume_in_place_of_a_run_that_is_not_paused_does_nothing() -> None:
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
    await handler.resume_in_place()  # as in the Rust core: nothing to continue
    assert handler.status == "waiting"
    await handler.respond_to_input("r", 5)
    assert (await handler.result()).result == 5


def _asking(name: str, **options: object) -> Workflow:
    @step
    async def wait(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.set("cfg", {"x": 1, "tags": ["a"]})
        return InputRequestEvent(request_id="r")

    @step
    async def end(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=(ev.response, ctx.get("cfg")))

    return Workflow(name, [wait, end], **options)  # type: ignore[arg-type]


async def test_the_timeout_does_not_run_while_paused() -> None:
    handler = await _asking("pause-timeout", timeout=0.2).run_with_handler()
    await next_request(handler)
    await handler.pause()
    await asyncio.sleep(0.4)  # paused for twice the timeout: the behaviour under test
    assert handler.status == "paused"
    await handler.resume_in_place()
    await handler.respond_to_input("r", "late but fine")
    assert (await handler.result()).result == ("late but fine", {"x": 1, "tags": ["a"]})


async def test_a_snapshot_is_a_copy_of_the_context() -> None:
    handler = await _asking("snapshot-copy").run_with_handler()
    await next_request(handler)
    snapshot = await handler.take_snapshot()
    snapshot.context_state["cfg"].value["tags"].append("changed in the snapshot")
    assert handler.context.get("cfg") == {"x": 1, "tags": ["a"]}
    await handler.respond_to_input("r", 1)
    assert (await handler.result()).result == (1, {"x": 1, "tags": ["a"]})


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("pickle_or_serialize", True), ("pickle_or_error", False), ("warn_drop", False)],
)
async def test_only_pickle_or_serialize_snapshots_carry_serialized_refs(
    policy: str, kept: bool
) -> None:
    handler = await _asking(f"refs-{policy}", session_pause_policy=policy).run_with_handler()
    await next_request(handler)
    snapshot = await handler.pause()
    assert (SERIALIZED_REFS_KEY in snapshot.metadata) is kept
    await handler.resume_in_place()
    await handler.respond_to_input("r", 2)
    assert (await handler.result()).result[0] == 2


async def test_a_snapshot_with_nothing_to_do_fails_as_stalled_on_resume() -> None:
    snapshot = WorkflowSnapshot.new(
        workflow_name="nothing-left",
        run_id="2b9f7cf4-0000-4000-8000-000000000001",
        context_state={},
        collected_events={},
        pending_events=[],
        metadata={ENGINE_KEY: ENGINE},
    )
    resumed = await _asking("nothing-left").resume(snapshot)
    with pytest.raises(RunStalledError, match="'nothing-left' stalled"):
        await asyncio.wait_for(resumed.result(), 10)


async def test_a_run_left_with_nothing_to_do_after_a_pause_fails_as_stalled() -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    @step
    async def only(ctx: Context, ev: StartEvent) -> None:
        started.set()
        await gate.wait()  # returns no event: after it, nothing is left to run

    handler = await Workflow("stall-after-pause", [only]).run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    pausing = asyncio.ensure_future(handler.pause())
    await turns()
    gate.set()
    snapshot = await asyncio.wait_for(pausing, 5)
    assert snapshot is not None
    assert snapshot.pending_events == []
    await handler.resume_in_place()
    with pytest.raises(RunStalledError, match="'stall-after-pause' stalled"):
        await asyncio.wait_for(handler.result(), 10)
