"""A durable run's backlog of commits is written in order, at most ``MAX_BATCH`` per write,
and steps wait (backpressure) while ``BACKLOG`` commits are queued."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from pathlib import Path

import pytest

from blazen import Context, Event, StartEvent, StopEvent, StoreError, Workflow, step
from blazen._runtime import committer
from blazen._runtime.stream import EventStream
from blazen.stores._batch import EncodedBatch, encode_batch
from blazen.stores.base import Commit, PendingEvent
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore
from blazen.values import StateValue

J = StateValue.Json


class GatedStore(MemoryStore):
    """A real MemoryStore whose first write of a ``hop`` commit waits for ``gate``, so the
    run's later commits queue up behind it; it records the size of every write (the engine
    writes through ``commit_encoded``, which ``commit`` calls too)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.sizes: list[int] = []

    async def commit_encoded(
        self, run_id: str, batch: EncodedBatch, *, owner: str, epoch: int | None = None
    ) -> int:
        self.sizes.append(len(batch.commits))
        if not self.gate.is_set() and any(c.step == "hop" for c in batch.commits):
            await self.gate.wait()
        return await super().commit_encoded(run_id, batch, owner=owner, epoch=epoch)


class Hop(Event):
    n: int


hops_run: list[int] = []  # the hops each test's chain has run, in order
LAST = [0]
STORES: list[GatedStore] = []


@step
async def begin(ctx: Context, ev: StartEvent) -> Hop:
    return Hop(n=0)


@step
async def hop(ctx: Context, ev: Hop) -> Hop | StopEvent:
    hops_run.append(ev.n)
    ctx.set("n", ev.n)
    if ev.n == LAST[0]:
        STORES[-1].gate.set()  # the chain is queued behind the first write: let it go
        return StopEvent(result=ev.n)
    return Hop(n=ev.n + 1)


def _chain(last: int) -> tuple[Workflow, GatedStore]:
    hops_run.clear()
    LAST[0] = last
    store = GatedStore()
    STORES.append(store)
    return Workflow("committer-backlog", [begin, hop], store=store), store


async def _check_landed(store: GatedStore, run_id: str, last: int) -> None:
    """Every hop's commit landed once, in seq order, and the stored ``n`` is the last hop's."""
    checkpoints = await store.checkpoints(run_id)
    assert len([c for c in checkpoints if c.step == "hop"]) == last + 1
    seqs = [c.seq for c in checkpoints]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    loaded = await store.load(run_id)
    assert loaded.context_state["n"].as_json() == last
    assert loaded.record.status == "completed"


async def test_a_long_backlog_is_written_in_order_in_writes_of_at_most_max_batch() -> None:
    last = 2 * committer.MAX_BATCH + 100
    wf, store = _chain(last)
    handler = await wf.run_with_handler()
    assert (await handler.result()).result == last
    assert max(store.sizes) <= committer.MAX_BATCH
    # the backlog behind the gated write went in full batches, then the rest
    assert store.sizes.count(committer.MAX_BATCH) >= 2
    assert sum(store.sizes) == len(await store.checkpoints(handler.run_id)) - 1  # not commit 0
    await _check_landed(store, handler.run_id, last)


async def test_steps_wait_while_the_backlog_is_full_and_go_on_once_it_drains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(committer, "BACKLOG", 8)
    monkeypatch.setattr(committer, "MAX_BATCH", 3)
    last = 40
    wf, store = _chain(last)
    LAST[0] = last + 1  # the chain does not open the gate itself: the test does
    handler = await wf.run_with_handler()
    for _ in range(500):  # bounded: until BACKLOG commits are queued behind the gate
        if len(hops_run) >= 8:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the chain would go on meanwhile if nothing held it back
    assert 8 <= len(hops_run) <= 8 + 2  # held back at about BACKLOG queued commits
    LAST[0] = last
    store.gate.set()
    assert (await asyncio.wait_for(handler.result(), 10)).result == last
    assert hops_run == list(range(last + 1))
    assert max(store.sizes) <= 3
    await _check_landed(store, handler.run_id, last)


async def test_a_commit_the_store_cannot_hold_fails_the_run_and_the_others_land(
    tmp_path: Path,
) -> None:
    """A built-in store's commits are encoded as they are queued: one that cannot be stored
    fails the run with the store's error, queues nothing, and the commits before it land."""
    store = SQLiteStore.from_url(str(tmp_path / "c.db"))
    try:
        start = PendingEvent("start", "StartEvent", {})
        await store.create_run(
            "r1", "wf", owner="me", pending=[start], context_state={}, collected={}, metadata={}
        )
        failures: list[BaseException] = []
        c = committer.Committer(store, "r1", "me", EventStream(), failures.append)
        assert c.submit(Commit("a", consumed=("start",), writes={"k": J(1)})) is None
        bad = Commit("b", writes={"raw": b"not a StateValue"})  # type: ignore[dict-item]
        assert c.submit(bad) is None
        assert [type(e) for e in failures] == [StoreError]
        assert "context value for 'raw' is bytes, not StateValue" in str(failures[0])
        with pytest.raises(StoreError, match="'raw' is bytes"):
            await c.drain()
        loaded = await store.load("r1")
        assert [cp.step for cp in await store.checkpoints("r1")][1:] == ["a"]
        assert loaded.context_state == {"k": J(1)}
    finally:
        await store.close()


def test_queued_rows_of_a_built_in_store_hold_nothing_the_collector_tracks() -> None:
    """Without ``keep_sources`` an encoded commit keeps no ``Commit`` and, once the collector
    has passed over it, only the commit row is tracked: its events, writes and columns are
    plain tuples of str and bytes, so a backlog does not reach the collector's oldest
    generation (a NamedTuple row would stay tracked for good)."""
    commits = [
        Commit(
            "s",
            consumed=(f"e{i}",),
            emitted=(PendingEvent(f"e{i + 1}", "T", {"i": i}, "s", "t"),),
            writes={"n": J(i), "blob": StateValue.Bytes(b"x" * 5000)},
            status="running",
        )
        for i in range(3)
    ]
    lean = encode_batch(commits, keep_sources=False)
    kept = encode_batch(commits)
    for _ in range(3):  # a tuple is let go a pass after the tuples it holds: 3 levels here
        gc.collect()
    for row in lean.commits:
        assert row.source is None
        parts = [row.consumed, row.emitted, *row.emitted, row.writes, *row.writes]
        assert [gc.is_tracked(p) for p in parts] == [False] * len(parts)
    assert [row.source for row in kept.commits] == commits  # a memory store's live values
    assert [row[1:] for row in lean.commits] == [row[1:] for row in kept.commits]


class Watching(MemoryStore):
    """A subclass overriding ``commit``: the engine must keep calling it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        self.seen += [c.step for c in commits]
        return await super().commit(run_id, commits, owner=owner, epoch=epoch)


async def test_a_store_subclass_overriding_commit_still_gets_every_commit() -> None:
    _chain(5)  # the chain's bookkeeping (its gate is not used here)
    store = Watching()
    wf = Workflow("committer-watch", [begin, hop], store=store)
    assert (await wf.run()).result == 5
    assert store.seen == ["begin", *["hop"] * 6]


def test_a_step_commit_given_as_parts_encodes_as_its_commit_does() -> None:
    """The engine's path (``StepParts`` straight into a batch, no ``Commit`` built) and the
    ``Commit`` path (for the memory store and any other store) write the same rows."""
    big = StateValue.Bytes(b"y" * 5000)
    parts = committer.StepParts(
        "s",
        ("e0",),
        [("e1", "T", "s", "t", {"i": 1}), ("e2", "U", "s", None, {"data": {"k": [1, 2]}})],
        {"n": J(3), "gone": None, "blob": big},
        {"T": [{"i": 1}]},
        "completed",
        big,
        2,
    )
    lean = EncodedBatch(keep_sources=False)
    lean.add_parts(None, *parts[:7], None, parts.attempt, None)
    kept = encode_batch([parts.commit()])
    assert lean.commits[0][1:] == kept.commits[0][1:]
    assert lean.blobs.keys() == kept.blobs.keys()
    assert [b.refs for b in lean.blobs.values()] == [2]
    assert (lean.status, kept.status) == ("completed", "completed")
    with pytest.raises(StoreError, match="cannot encode object with msgpack"):
        lean.add_parts(
            None, "s", (), [("e3", "T", "s", None, object())], {}, None, None, None, None, 1, None
        )
    assert len(lean.commits) == 1  # the batch is unchanged
