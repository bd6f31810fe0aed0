"""Durable runs end to end: commits per step, resume, recover, fork, bad input."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    LeaseLostError,
    StartEvent,
    StepError,
    StepFailedEvent,
    StopEvent,
    StoreConflictError,
    StoreError,
    Workflow,
    WorkflowError,
    step,
)
from blazen.stores.base import CheckpointStore, open_store
from blazen.stores.export import export_run
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore
from blazen.values import StateValue
from stores.flows import STEPS, Tick  # the shared tick workflow (tests/stores/flows.py)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    """Every backend, the server ones through the store contract suite's openers."""
    if request.param in ("postgres", "redis"):
        importlib.import_module("stores.conftest")  # loads the server backends in order
        module = importlib.import_module(f"stores.backend_{request.param}")
        backend = module.open_backend(tmp_path)  # skips (fails under CI=true) if no server
        yield await backend.open()
        await backend.aclose()
        return
    s: CheckpointStore = (
        MemoryStore() if request.param == "memory" else SQLiteStore.from_url(str(tmp_path / "r.db"))
    )
    yield s
    await s.close()


async def test_every_step_is_committed(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="x")
    assert (await handler.result()).result == {"label": "x", "last": 5}
    record = await store.get_run(handler.run_id)
    assert record.status == "completed"
    history = await store.checkpoints(handler.run_id)
    steps = [c.step for c in history]
    assert steps[0] == "<create>"
    assert history[0].seq == 0
    assert steps.count("tick") == 6
    assert steps.count("tick_start") == 1
    assert steps[-1] == "tick"  # the step that returned the StopEvent also commits the result
    assert len(steps) == 8
    tick_commits = [c for c in history if c.step == "tick"]
    assert all(c.writes == ("last",) for c in tick_commits)  # only the key that changed
    loaded = await store.load(handler.run_id)
    assert loaded.pending == []
    assert loaded.result is not None
    assert loaded.result.as_json() == {"label": "x", "last": 5}


async def test_paused_run_resumes_from_the_store_with_a_new_workflow_object(
    store: CheckpointStore,
) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="y", ask=True)
    for _ in range(100):
        if handler._run.waiting:
            break
        await asyncio.sleep(0.005)
    assert (await store.get_run(handler.run_id)).status == "waiting"
    await handler.pause()
    # Paused while only an answer could move it: the stored run still says it waits.
    assert (await store.get_run(handler.run_id)).status == "waiting"

    wf2 = Workflow("ticks", STEPS, store=store)
    resumed = await wf2.resume_run(handler.run_id)
    assert resumed.run_id == handler.run_id
    await resumed.respond_to_input("more", "yes")
    assert (await resumed.result()).result == {"label": "y", "last": 5}
    loaded = await store.load(handler.run_id)
    assert loaded.context_state["answer"].as_json() == "yes"
    with pytest.raises(WorkflowError, match="already completed"):
        await wf2.resume_run(handler.run_id)


async def test_recover_resumes_every_unfinished_run(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    waiting = [await wf.run_with_handler(label=f"r{i}", ask=True) for i in range(3)]
    await asyncio.sleep(0.05)
    for h in waiting:
        await h.pause()
    handlers = await Workflow("ticks", STEPS, store=store).recover()
    assert sorted(h.run_id for h in handlers) == sorted(h.run_id for h in waiting)
    for h in handlers:
        await h.respond_to_input("more", 1)
    results = [(await h.result()).result["label"] for h in handlers]
    assert sorted(results) == ["r0", "r1", "r2"]


async def test_fork_from_a_checkpoint(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="f")
    await handler.result()
    history = await store.checkpoints(handler.run_id)
    mid = next(c.seq for c in history if c.step == "tick")
    forked = await wf.fork_run(handler.run_id, mid)
    assert forked.run_id != handler.run_id
    assert (await forked.result()).result == {"label": "f", "last": 5}
    record = await store.get_run(forked.run_id)
    assert record.metadata["forked_from"] == {"run_id": handler.run_id, "seq": mid}


async def test_export_of_a_stored_run_resumes_in_memory(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="e", ask=True)
    await asyncio.sleep(0.05)
    await handler.pause()
    snapshot = await export_run(store, handler.run_id)
    memory_wf = Workflow("ticks", STEPS)
    resumed = await memory_wf.resume(snapshot.to_bytes())
    await resumed.respond_to_input("more", "ok")
    assert (await resumed.result()).result == {"label": "e", "last": 5}


async def test_bad_input_is_a_clear_error(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    with pytest.raises(StoreError, match="no-such-run"):
        await wf.resume_run("no-such-run")
    handler = await wf.run_with_handler(label="z", ask=True)
    await asyncio.sleep(0.05)
    await handler.pause()

    @step
    async def other(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent()

    changed = Workflow("ticks", [other], store=store)
    with pytest.raises(StoreConflictError, match="no longer match"):
        await changed.resume_run(handler.run_id)
    renamed = Workflow("ticks-v2", STEPS, store=store)
    with pytest.raises(StoreConflictError, match="belongs to workflow"):
        await renamed.resume_run(handler.run_id)
    # The stored run is intact and still resumable by the right workflow.
    resumed = await Workflow("ticks", STEPS, store=store).resume_run(handler.run_id)
    await resumed.respond_to_input("more", 0)
    assert (await resumed.result()).result["label"] == "z"


async def test_a_live_run_is_not_resumed_twice_and_a_taken_over_one_stops(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "own.db")
    gate = asyncio.Event()
    started = asyncio.Event()

    @step
    async def slow_start(ctx: Context, ev: StartEvent) -> Tick:
        return Tick(i=0)

    @step
    async def slow(ctx: Context, ev: Tick) -> Tick | StopEvent:
        started.set()
        await gate.wait()
        return StopEvent(result="first") if ev.i else Tick(i=1)

    s1, s2 = SQLiteStore.from_url(path), SQLiteStore.from_url(path)
    try:
        first = await Workflow("own", [slow_start, slow], store=s1).run_with_handler()
        await started.wait()
        with pytest.raises(StoreConflictError, match=r"is owned by .*, which is running it"):
            await Workflow("own", [slow_start, slow], store=s2).resume_run(first.run_id)
        # As if the first owner had stalled past its lease: another process takes it over.
        taken = await s2.claim(first.run_id, "intruder")
        assert await s2.release(first.run_id, "intruder", taken.epoch)
        second = await Workflow("own", [slow_start, slow], store=s2).resume_run(first.run_id)
        gate.set()
        with pytest.raises(LeaseLostError, match=first.run_id):
            await first.result()
        assert (await second.result()).result == "first"
        history = await s2.checkpoints(first.run_id)
        resumed = next(c.seq for c in history if c.step == "<resume>")
        assert {c.epoch for c in history if c.seq >= resumed} == {taken.epoch + 1}
        assert all(c.epoch == 1 for c in history if c.seq < resumed)
    finally:
        await s1.close()
        await s2.close()


async def test_store_url_and_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    wf = Workflow("ticks", STEPS, store=f"sqlite:///{tmp_path / 'u.db'}")
    assert (await (await wf.run_with_handler(label="u")).result()).result["last"] == 5
    assert (tmp_path / "u.db").exists()
    await wf.store.close()  # type: ignore[union-attr]
    default = open_store()
    try:
        assert isinstance(default, SQLiteStore)
    finally:
        await default.close()
    assert (tmp_path / "blazen.db").exists()


async def test_a_large_blob_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "blob.db"
    blob = os.urandom(20 * 1024 * 1024)

    class Small(Event):
        i: int

    @step
    async def put(ctx: Context, ev: StartEvent) -> Small:
        ctx.set_bytes("blob", blob)
        return Small(i=0)

    @step
    async def small(ctx: Context, ev: Small) -> Small | StopEvent:
        ctx.set("i", ev.i)
        if ev.i == 10:
            ctx.set_bytes("copy", ctx.get_bytes("blob") or b"")  # same content, new key
        if ev.i >= 50:
            return StopEvent(result=len(ctx.get_bytes("copy") or b""))
        return Small(i=ev.i + 1)

    store = SQLiteStore.from_url(str(path))
    try:
        wf = Workflow("blob", [put, small], store=store)
        handler = await wf.run_with_handler()
        assert (await handler.result()).result == len(blob)
        loaded = await store.load(handler.run_id)
        assert loaded.context_state["blob"].as_bytes() == blob
    finally:
        await store.close()
    size = path.stat().st_size + sum(
        p.stat().st_size for p in tmp_path.glob("blob.db-*") if p.exists()
    )
    assert size < len(blob) + 4 * 1024 * 1024, size


def test_a_run_interrupted_by_loop_shutdown_is_recovered(tmp_path: Path) -> None:
    """asyncio.run ending (Ctrl-C, a crash of the caller) leaves the run unfinished, not failed."""
    path = str(tmp_path / "shutdown.db")
    started = []

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Tick:
        return Tick(i=0)

    @step
    async def long(ctx: Context, ev: Tick) -> StopEvent:
        started.append(ev.i)
        if len(started) == 1:
            await asyncio.sleep(3600)  # interrupted here by the loop's shutdown
        return StopEvent(result="recovered")

    store = SQLiteStore.from_url(path)

    async def first() -> str:
        handler = await Workflow("shutdown", [begin, long], store=store).run_with_handler()
        while not started:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # let the begin commit land
        return handler.run_id  # returning cancels the run's tasks

    run_id = asyncio.run(first())
    asyncio.run(store.close())  # the store outlives the loop that was shut down

    async def second() -> list[object]:
        store = SQLiteStore.from_url(path)
        try:
            assert (await store.get_run(run_id)).status == "running"
            handlers = await Workflow("shutdown", [begin, long], store=store).recover()
            return [(h.run_id, (await h.result()).result) for h in handlers]
        finally:
            await store.close()

    assert asyncio.run(second()) == [(run_id, "recovered")]


async def test_an_event_that_cannot_be_stored_fails_the_durable_run_clearly() -> None:
    class Carry(Event):
        fn: object

    @step
    async def make(ctx: Context, ev: StartEvent) -> Carry:
        return Carry(fn=lambda: 1)  # cannot be pickled, so cannot be checkpointed

    @step
    async def use(ctx: Context, ev: Carry) -> StopEvent:
        return StopEvent(result=ev.fn())

    in_memory = Workflow("carry", [make, use])
    assert (await (await in_memory.run_with_handler()).result()).result == 1
    store = MemoryStore()
    durable = Workflow("carry", [make, use], store=store)
    handler = await durable.run_with_handler()
    with pytest.raises(WorkflowError, match="Carry"):
        await asyncio.wait_for(handler.result(), 5)
    assert (await store.get_run(handler.run_id)).status == "failed"


async def test_a_snapshot_resumed_on_a_durable_workflow_continues_the_stored_run(
    store: CheckpointStore,
) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="s", ask=True)
    await asyncio.sleep(0.05)
    snapshot = await handler.pause()
    resumed = await wf.resume(snapshot.to_bytes())  # the run exists: its history goes on
    await resumed.respond_to_input("more", "go")
    assert (await resumed.result()).result == {"label": "s", "last": 5}
    record = await store.get_run(handler.run_id)
    assert record.status == "completed"
    steps = [c.step for c in await store.checkpoints(handler.run_id)]
    assert "<paused>" in steps
    assert "<resume>" in steps

    other = MemoryStore()  # a store that never saw the run: it is created there
    try:
        again = await Workflow("ticks", STEPS, store=other).resume(snapshot)
        await again.respond_to_input("more", "go")
        assert (await again.result()).result == {"label": "s", "last": 5}
        assert (await other.get_run(handler.run_id)).status == "completed"
    finally:
        await other.close()


async def test_fork_after_the_last_step_is_a_clear_error(store: CheckpointStore) -> None:
    wf = Workflow("ticks", STEPS, store=store)
    handler = await wf.run_with_handler(label="end")
    await handler.result()
    last = (await store.get_run(handler.run_id)).last_seq
    with pytest.raises(WorkflowError, match="nothing left to run"):
        await wf.fork_run(handler.run_id, last)


async def test_input_requests_and_their_answers_are_in_the_history(
    store: CheckpointStore,
) -> None:
    # An audit trail: what the run asked (emitted by the asking step), and the commit that
    # answered it (which consumes the request), answered in process and through the store.
    async def requests(run_id: str) -> list[tuple[str | None, str, int | None]]:
        return [
            (e.source_step, e.data["prompt"], done)
            for _, e, done in await store.events(run_id)
            if e.event_type == InputRequestEvent.event_type
        ]

    wf = Workflow("ticks", STEPS, store=store)
    for via_store in (False, True):
        handler = await wf.run_with_handler(label=f"audit-{via_store}", ask=True)
        async for event in handler.stream_events():
            if isinstance(event, InputRequestEvent):
                break  # published once the asking step's commit (with the request) landed
        assert await requests(handler.run_id) == [("tick", "continue?", None)]
        if via_store:
            await handler.pause()  # this process lets go; the answer goes through the store
            await store.respond(handler.run_id, "more", "yes")
            handler = await Workflow("ticks", STEPS, store=store).resume_run(handler.run_id)
        else:
            await handler.respond_to_input("more", "yes")
        assert (await handler.result()).result == {"label": f"audit-{via_store}", "last": 5}
        ((_, _, answered_at),) = await requests(handler.run_id)
        history = {c.seq: c.step for c in await store.checkpoints(handler.run_id)}
        assert history[answered_at] == ("<resume>" if via_store else "<input>")


async def test_every_failed_attempt_is_in_the_history_also_the_last(
    store: CheckpointStore,
) -> None:
    @step(retries=2)
    async def always(ctx: Context, ev: StartEvent) -> StopEvent:
        raise ConnectionError(f"try {ctx.attempt()}")

    wf = Workflow("attempts-failing", [always], store=store)
    handler = await wf.run_with_handler()
    with pytest.raises(StepError, match="try 3"):
        await handler.result()
    history = await store.checkpoints(handler.run_id)
    failed = [(c.step, c.attempt, c.error) for c in history if c.step == "always"]
    assert failed == [
        ("always", 1, "ConnectionError: try 1"),
        ("always", 2, "ConnectionError: try 2"),
        ("always", 3, "ConnectionError: try 3"),
    ]
    assert history[-1].step == "<end>"

    @step
    async def handled(ctx: Context, ev: StepFailedEvent) -> StopEvent:
        return StopEvent(result=ev.attempts)

    wf = Workflow("attempts-handled", [always, handled], store=store)
    handler = await wf.run_with_handler()
    assert (await handler.result()).result == 3
    steps = [
        (c.step, c.attempt, c.error is not None) for c in await store.checkpoints(handler.run_id)
    ]
    assert steps[1:] == [
        ("always", 1, True),
        ("always", 2, True),
        ("always", 3, True),  # the final failure, recorded before the handler got it
        ("always", 3, False),  # the commit that hands the StepFailedEvent on
        ("handled", 1, False),
    ]


@pytest.mark.parametrize(
    ("result", "stored"),
    [
        (b"\x00raw", StateValue.Bytes(b"\x00raw")),
        (StateValue.Json({"a": 1}), StateValue.Json({"a": 1})),  # a StateValue is kept as is
        ({"a": [1, 2]}, StateValue.Json({"a": [1, 2]})),
    ],
    ids=["bytes", "state-value", "json"],
)
async def test_a_result_is_stored_in_its_tier(result: object, stored: StateValue) -> None:
    @step
    async def give(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=result)

    store = MemoryStore()
    wf = Workflow("results", [give], store=store)
    handler = await wf.run_with_handler()
    await handler.result()
    loaded = await store.load(handler.run_id)
    assert loaded.result == stored
    assert (await wf.wait(handler.run_id)).result == (
        stored.as_bytes() if isinstance(stored, StateValue.Bytes) else stored.value
    )


class _Receipt:
    """A result that only pickle can store."""

    def __init__(self, total: int) -> None:
        self.total = total


async def test_wait_gives_a_pickled_result_back_as_its_object() -> None:
    @step
    async def give(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=_Receipt(7))

    store = MemoryStore()
    wf = Workflow("receipt", [give], store=store)
    handler = await wf.run_with_handler()
    await handler.result()
    assert (await store.load(handler.run_id)).result.kind == "native"
    got = (await wf.wait(handler.run_id)).result
    assert isinstance(got, _Receipt)
    assert got.total == 7
