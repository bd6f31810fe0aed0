"""A durable run's backlog of commits is written in order, at most ``MAX_BATCH`` per write,
and steps wait (backpressure) while ``BACKLOG`` commits are queued."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen._runtime import committer
from blazen.stores.base import Commit
from blazen.stores.memory import MemoryStore


class GatedStore(MemoryStore):
    """A real MemoryStore whose first write of a ``hop`` commit waits for ``gate``, so the
    run's later commits queue up behind it; it records the size of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.sizes: list[int] = []

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        self.sizes.append(len(commits))
        if not self.gate.is_set() and any(c.step == "hop" for c in commits):
            await self.gate.wait()
        return await super().commit(run_id, commits, owner=owner, epoch=epoch)


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
