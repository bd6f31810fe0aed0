"""``Worker`` on every store, in this process: the queue, draining, answers and cancels
from elsewhere, lost leases, refused runs, and takeover of an expired lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    RunAbortedError,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)
from blazen.stores import CheckpointStore
from blazen.worker import Worker

from .flows import expected, fanout


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    """Poll an observable condition until it holds (bounded)."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Held(Event):
    pass


class Gated:
    """A workflow whose second step waits for ``gate``; ``started`` lists the runs there."""

    def __init__(self, store: CheckpointStore, name: str = "gated") -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []
        self.peak = self.active = 0

        @step
        async def first(ctx: Context, ev: StartEvent) -> Held:
            return Held()

        @step
        async def second(ctx: Context, ev: Held) -> StopEvent:
            self.started.append(ctx.run_id())
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                await self.gate.wait()
            finally:
                self.active -= 1
            return StopEvent(result=ctx.run_id())

        self.wf = Workflow(name, [first, second], store=store, lease=2.0)

    async def all_started(self, n: int) -> bool:
        return len(self.started) >= n


def running(worker: Worker) -> asyncio.Task[None]:
    return asyncio.ensure_future(worker.run())


async def stopped(worker: Worker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(task, 30)


async def one_gated_run(store: CheckpointStore) -> tuple[Gated, str, Worker, asyncio.Task[None]]:
    """A submitted gated run, taken by a running worker and waiting at the gate."""
    gated = Gated(store)
    run_id = await gated.wf.submit()
    worker = Worker([gated.wf])
    task = running(worker)
    await until(lambda: gated.all_started(1))
    return gated, run_id, worker, task


async def test_a_worker_runs_the_submitted_runs(store: CheckpointStore) -> None:
    wf = fanout(store)
    ids = {await wf.submit(seed=seed): seed for seed in range(6)}
    worker = Worker([wf], concurrency=2)
    task = running(worker)
    results = {run_id: (await wf.wait(run_id, timeout=30)).result for run_id in ids}
    await stopped(worker, task)
    assert results == {run_id: expected(seed) for run_id, seed in ids.items()}
    assert (worker.stats.claimed, worker.stats.finished) == (6, 6)


async def test_concurrency_caps_the_runs_in_progress(store: CheckpointStore) -> None:
    gated = Gated(store)
    ids = [await gated.wf.submit() for _ in range(5)]
    worker = Worker([gated.wf], concurrency=2)
    task = running(worker)
    await until(lambda: gated.all_started(2))
    assert [r.status for r in await store.list_runs(status="queued")] == ["queued"] * 3
    gated.gate.set()
    for run_id in ids:
        assert (await gated.wf.wait(run_id, timeout=30)).result == run_id
    await stopped(worker, task)
    assert gated.peak == 2


async def test_stop_releases_the_unfinished_runs_for_another_worker(
    store: CheckpointStore,
) -> None:
    gated = Gated(store)
    ids = [await gated.wf.submit() for _ in range(2)]
    first = Worker([gated.wf], concurrency=4, drain_timeout=0)
    task = running(first)
    await until(lambda: gated.all_started(2))
    await stopped(first, task)
    assert first.stats.handed_over == 2
    records = [await store.get_run(run_id) for run_id in ids]
    assert [(r.status, r.owner) for r in records] == [("queued", None)] * 2
    gated.gate.set()
    second = Worker([gated.wf])
    task = running(second)
    assert [(await gated.wf.wait(i, timeout=30)).result for i in ids] == ids
    await stopped(second, task)
    assert sorted(gated.started) == sorted(ids * 2)  # in flight at the stop: run again


def asking(store: CheckpointStore) -> Workflow:
    @step
    async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        return InputRequestEvent(request_id="approve", prompt="approve?")

    @step
    async def answer(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ev.response)

    return Workflow("asking", [ask, answer], store=store)


async def test_an_answer_from_elsewhere_reaches_a_run_waiting_in_a_worker(
    store: CheckpointStore,
) -> None:
    wf = asking(store)
    run_id = await wf.submit()
    worker = Worker([wf])
    task = running(worker)

    async def released() -> bool:
        record = await store.get_run(run_id)
        return record.status == "waiting" and record.owner is None

    async def counted() -> bool:  # the worker counts the hand-over once its release landed
        return worker.stats.handed_over == 1

    await until(released)  # a run waiting for input holds no lease
    await until(counted)
    await store.respond(run_id, "approve", {"ok": True})
    assert (await wf.wait(run_id, timeout=30)).result == {"ok": True}
    await stopped(worker, task)
    assert worker.stats.claimed == 2


async def test_a_cancel_from_elsewhere_stops_the_run_in_its_worker(
    store: CheckpointStore,
) -> None:
    gated, run_id, worker, task = await one_gated_run(store)
    await store.cancel(run_id)
    with pytest.raises(RunAbortedError, match=f"run {run_id} was cancelled"):
        await gated.wf.wait(run_id, timeout=30)
    assert (await store.checkpoints(run_id))[-1].step == "<cancelled>"
    await stopped(worker, task)
    assert gated.active == 0  # the waiting step was cancelled, not left behind


async def test_a_lost_lease_stops_the_run_without_another_commit(
    store: CheckpointStore,
) -> None:
    gated, run_id, worker, task = await one_gated_run(store)
    taken = await store.claim(run_id, "elsewhere:1:thief")  # as if its lease had expired
    before = await store.checkpoints(run_id)

    async def lost() -> bool:
        return worker.stats.lost == 1

    await until(lost)
    gated.gate.set()
    assert gated.active == 0
    assert await store.checkpoints(run_id) == before  # nothing committed after the takeover
    record = await store.get_run(run_id)
    assert (record.owner, record.epoch, record.status) == ("elsewhere:1:thief", taken.epoch,
                                                          "running")  # fmt: skip
    await stopped(worker, task)


async def test_a_run_of_changed_code_fails_with_the_reason(store: CheckpointStore) -> None:
    old = Gated(store, "versioned")
    run_id = await old.wf.submit()

    @step
    async def only(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result="new code")

    new = Workflow("versioned", [only], store=store)
    worker = Worker([new])
    task = running(worker)
    with pytest.raises(Exception, match="no longer match the checkpoint"):
        await new.wait(run_id, timeout=30)
    await stopped(worker, task)
    assert worker.stats.refused == 1


async def test_a_run_whose_owner_vanished_is_taken_over_when_its_lease_expires(
    store: CheckpointStore,
) -> None:
    wf = fanout(store)
    run_id = await wf.submit(seed=7)
    await store.acquire(run_id, "another-host:1:gone", lease=0.5)  # its owner then died
    began = time.monotonic()
    worker = Worker([wf])
    task = running(worker)
    assert (await wf.wait(run_id, timeout=30)).result == expected(7)
    took = time.monotonic() - began
    await stopped(worker, task)
    assert took < 0.5 + 1.0 + 1.0  # the lease, the second, and the run itself
    history: Any = await store.checkpoints(run_id)
    assert [c.epoch for c in history if c.step == "<resume>"] == [2]


async def test_a_handler_follows_its_run_answered_and_finished_elsewhere(
    store: CheckpointStore,
) -> None:
    wf = asking(store)
    handler = await wf.run_with_handler()
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break

    async def released() -> bool:
        return (await store.get_run(handler.run_id)).owner is None

    await until(released)
    await store.respond(handler.run_id, "approve", "from elsewhere")
    worker = Worker([asking(store)])
    task = running(worker)
    result = await asyncio.wait_for(handler.result(), 30)  # whoever continued it
    assert result.result == "from elsewhere"
    assert (await wf.wait(handler.run_id)).result == "from elsewhere"
    await stopped(worker, task)


def test_bad_worker_and_lease_settings_are_refused() -> None:
    from blazen import WorkflowError, WorkflowValidationError
    from blazen.stores.memory import MemoryStore

    with pytest.raises(WorkflowValidationError, match="lease must be a number of seconds > 0"):
        fanout(None, lease=0)
    with pytest.raises(WorkflowError, match="a worker needs at least one workflow"):
        Worker([])
    with pytest.raises(WorkflowError, match="concurrency must be an int >= 1"):
        Worker([fanout(MemoryStore())], concurrency=0)
    with pytest.raises(WorkflowError, match="a worker needs one store"):
        Worker([fanout(MemoryStore()), asking(MemoryStore())])
    with pytest.raises(WorkflowError, match="two workflows named 'fanout'"):
        Worker([fanout(MemoryStore()), fanout(MemoryStore())], MemoryStore())
