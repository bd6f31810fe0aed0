"""Durable runs at their edges: adopted snapshots, pause and abort, forks, stubborn steps."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    StoreConflictError,
    Workflow,
    step,
)
from blazen.stores.memory import MemoryStore
from waiting import next_request, quiet_loop, until


class Item(Event):
    i: int


class Squared(Event):
    sq: int


class Note(Event):
    text: str


def _fan(name: str, hold: set[int], store: Any = None) -> Workflow:
    """Four items squared and collected; the items in ``hold`` never finish here."""

    @step
    async def scatter(ctx: Context, ev: StartEvent) -> list[Item]:
        return [Item(i=i) for i in range(4)]

    @step
    async def square(ctx: Context, ev: Item) -> Squared:
        if ev.i in hold:
            await asyncio.get_running_loop().create_future()  # until cancelled
        return Squared(sq=ev.i * ev.i)

    @step
    async def join(ctx: Context, ev: Squared) -> StopEvent | None:
        got = ctx.collect_events(ev, [Squared] * 4)
        return None if got is None else StopEvent(result=sorted(e.sq for e in got))

    return Workflow(name, [scatter, square, join], store=store)


async def test_a_snapshot_adopted_by_a_durable_workflow_keeps_its_deliveries_and_buffers() -> None:
    # An in-memory run, snapshotted with two squares buffered and two in flight.
    memory = await _fan("adopt", {2, 3}).run_with_handler()
    await until(
        lambda: len(memory.context._collected.get(Squared.event_type, [])) == 2,  # type: ignore[attr-defined]
        "two squares are buffered",
    )
    snapshot = await memory.take_snapshot()
    await memory.abort()
    assert sorted(p.data["i"] for p in snapshot.pending_events) == [2, 3]

    store = MemoryStore()
    stuck = await _fan("adopt", {0, 1, 2, 3}, store).resume(snapshot)  # stores the run
    loaded = await store.load(stuck.run_id)
    assert sorted(p.data["i"] for p in loaded.pending) == [2, 3]
    assert {(p.source_step, p.target_step) for p in loaded.pending} == {("scatter", "square")}
    assert [d["sq"] for d in loaded.collected[Squared.event_type]] == [0, 1]
    # While the first process holds it, nobody else continues it...
    with pytest.raises(StoreConflictError, match=r"is owned by .*, which is running it"):
        await _fan("adopt", set(), store).resume_run(stuck.run_id)
    # ...until, as if it had stalled past its lease, another process takes it over.
    claim = await store.claim(stuck.run_id, "intruder")
    assert await store.release(stuck.run_id, "intruder", claim.epoch)
    taken = await _fan("adopt", set(), store).resume_run(stuck.run_id)
    assert (await asyncio.wait_for(taken.result(), 10)).result == [0, 1, 4, 9]
    with pytest.raises(StoreConflictError, match="lost its lease"):
        await stuck.result()  # the first process lost the run: the store refused its commits
    await store.close()


async def test_a_completed_runs_snapshot_ends_at_once_on_a_durable_workflow() -> None:
    done = await _fan("adopt-done", set()).run_with_handler()
    assert (await done.result()).result == [0, 1, 4, 9]
    snapshot = await done.take_snapshot()
    store = MemoryStore()
    resumed = await _fan("adopt-done", {0, 1, 2, 3}, store).resume(snapshot)
    assert (await asyncio.wait_for(resumed.result(), 10)).result == [0, 1, 4, 9]
    assert (await store.get_run(resumed.run_id)).status == "completed"
    await store.close()


def _ask(name: str, store: MemoryStore) -> Workflow:
    @step
    async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.write_event_to_stream(Note(text="asked"))
        return InputRequestEvent(request_id="q", prompt="go?")

    @step
    async def answer(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        ctx.write_event_to_stream(Note(text=f"answered {ev.response}"))
        return StopEvent(result=ev.response)

    return Workflow(name, [ask, answer], store=store)


async def _read(handler: Any, seen: list[str]) -> None:
    async for ev in handler.stream_events():
        seen.append(ev.text if isinstance(ev, Note) else f"request {ev.request_id}")


async def test_a_paused_durable_run_keeps_its_stream_open_until_it_ends() -> None:
    store = MemoryStore()
    handler = await _ask("durable-pause", store).run_with_handler()
    seen: list[str] = []
    reader = asyncio.ensure_future(_read(handler, seen))
    await next_request(handler)
    assert await handler.pause() is not None
    assert (await store.get_run(handler.run_id)).status == "waiting"  # paused while waiting
    await handler.resume_in_place()
    await handler.respond_to_input("q", "yes")
    assert (await handler.result()).result == "yes"
    await asyncio.wait_for(reader, 10)
    assert seen == ["asked", "request q", "answered yes"]  # one stream across the pause
    await store.close()


async def test_an_aborted_durable_run_ends_its_stream_and_is_stored_as_cancelled() -> None:
    store = MemoryStore()
    handler = await _ask("durable-abort", store).run_with_handler()
    seen: list[str] = []
    reader = asyncio.ensure_future(_read(handler, seen))
    await next_request(handler)
    await handler.abort()
    await asyncio.wait_for(reader, 10)  # the stream ended
    assert seen == ["asked", "request q"]
    assert (await store.get_run(handler.run_id)).status == "cancelled"
    await store.close()


async def test_a_fork_of_a_waiting_run_waits_too() -> None:
    store = MemoryStore()
    wf = _ask("durable-fork", store)
    original = await wf.run_with_handler()
    await next_request(original)
    fork = await wf.fork_run(original.run_id)
    assert fork.run_id != original.run_id
    assert (await store.get_run(fork.run_id)).status == "waiting"
    assert [r.request_id for r in fork.input_requests()] == ["q"]
    await fork.respond_to_input("q", "from the fork")
    assert (await fork.result()).result == "from the fork"
    await original.respond_to_input("q", "original")
    assert (await original.result()).result == "original"
    await store.close()


async def test_a_step_that_swallows_its_cancellation_commits_nothing_after_the_end() -> None:
    class Slow(Event):
        pass

    class Fast(Event):
        pass

    class Late(Event):
        pass

    slow_started = asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> list[Event]:
        return [Slow(), Fast()]

    @step
    async def stubborn(ctx: Context, ev: Slow) -> Late:
        slow_started.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed: the step goes on
            await asyncio.get_running_loop().create_future()  # until cancelled
        ctx.set("late", True)
        return Late()

    @step
    async def fast(ctx: Context, ev: Fast) -> StopEvent:
        await asyncio.wait_for(slow_started.wait(), 5)
        return StopEvent(result="fast")

    @step
    async def never(ctx: Context, ev: Late) -> None:
        raise AssertionError("an event of a step that ended after the run was routed")

    store = MemoryStore()
    handler = await Workflow(
        "stubborn", [begin, stubborn, fast, never], store=store
    ).run_with_handler()
    assert (await handler.result()).result == "fast"
    await quiet_loop()  # the stubborn step has returned and nothing else is pending
    history = await store.checkpoints(handler.run_id)
    assert [c.step for c in history][-1] == "fast"
    assert "stubborn" not in {c.step for c in history}
    record = await store.get_run(handler.run_id)
    assert record.status == "completed"
    assert "late" not in (await store.load(handler.run_id)).context_state
    await store.close()
