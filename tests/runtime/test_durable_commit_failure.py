"""A durable run whose commit fails: the run fails with a StoreError and stops, resumable."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, StoreError, Workflow, step
from blazen.stores.base import Commit
from blazen.stores.memory import MemoryStore


class Step(Event):
    i: int


class BrokenStore:
    """A ``MemoryStore`` whose commit call holding the commit of ``Step(i=fail_at)`` fails."""

    def __init__(self, inner: MemoryStore, fail_at: int) -> None:
        self.inner, self.fail_at, self.calls = inner, fail_at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        self.calls += 1
        if any(c.writes.get(f"done{self.fail_at}") is not None for c in commits):
            raise ConnectionResetError("the store went away")
        return await self.inner.commit(run_id, commits, owner=owner, epoch=epoch)


async def _committed(store: MemoryStore, run_id: str, key: str) -> None:
    """Wait until ``key`` is in the run's stored state (the commit writing it landed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while key not in (await store.load(run_id)).context_state:
        assert loop.time() < deadline, f"{key} was never committed"
        await asyncio.sleep(0)


def _workflow(store: Any, ran: list[int], inner: MemoryStore | None) -> Workflow:
    """Steps 0..4; with ``inner``, step i first waits until step i-1's commit landed."""

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Step:
        return Step(i=0)

    @step
    async def work(ctx: Context, ev: Step) -> Step | StopEvent:
        ran.append(ev.i)
        if inner is not None and ev.i > 0:
            await _committed(inner, ctx.run_id(), f"done{ev.i - 1}")  # one commit per write
        ctx.set(f"done{ev.i}", True)
        if ev.i == 4:
            return StopEvent(result=sorted(set(ran)))
        return Step(i=ev.i + 1)

    return Workflow("commit-fails", [begin, work], store=store)


async def test_a_failed_commit_fails_the_run_with_a_store_error_and_stops_it() -> None:
    inner, ran = MemoryStore(), []
    broken = BrokenStore(inner, fail_at=2)
    handler = await _workflow(broken, ran, inner).run_with_handler()
    with pytest.raises(StoreError, match="checkpoint failed: the store went away") as info:
        await asyncio.wait_for(handler.result(), 10)
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert handler.status == "failed"
    assert ran == [0, 1, 2, 3]  # step 3 waited for step 2's commit and was cancelled
    loaded = await inner.load(handler.run_id)
    assert {k for k in loaded.context_state if k.startswith("done")} == {"done0", "done1"}

    ran.clear()
    resumed = await _workflow(inner, ran, None).resume_run(handler.run_id)
    assert (await resumed.result()).result == [2, 3, 4]  # from the last commit that landed
    await inner.close()
