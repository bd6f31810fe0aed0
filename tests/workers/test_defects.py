"""One deterministic test per recovery defect of issue 11 (each failed before the fix).

1. The ``<end>`` window: the step that returns the ``StopEvent`` commits its work and the
   run's result in one write; a process killed right after that write leaves a completed run.
2. ``resume_run`` claims atomically: a run completed by another process after the caller
   read it is refused, and stays completed.
3. ``recover()`` skips runs that finish (or that a live process holds) meanwhile.
4. ``wf.resume(snapshot)`` of a run the store has completed is refused (no second run).
5. An input request is shown only after the asking step's commit has landed; a run that
   waits says ``waiting`` (also when paused, also in the store's listing).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
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
from blazen.stores import CheckpointStore, Commit, RunRecord, RunStatus, open_store
from blazen.stores.memory import MemoryStore

from .conftest import make_url
from .flows import expected, fanout

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


# -- 1. the <end> window ------------------------------------------------------------------


class Recording(MemoryStore):
    """Keeps every batch of commits written."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Commit]] = []

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        self.batches.append(list(commits))
        return await super().commit(run_id, commits, owner=owner, epoch=epoch)


async def test_the_stop_step_commits_the_result_in_the_same_write() -> None:
    store = Recording()
    wf = fanout(store)
    result = await wf.run(seed=3)
    assert result.result == expected(3)
    commits = [c for batch in store.batches for c in batch]
    ending = [c for c in commits if c.status == "completed"]
    assert len(ending) == 1
    assert ending[0].step == "gather"  # the step's own commit, not a separate <end>
    assert ending[0].result is not None
    assert ending[0].result.as_json() == expected(3)
    (record,) = await store.list_runs()
    assert "<end>" not in [c.step for c in await store.checkpoints(record.run_id)]


KILLER = """
import asyncio, os, signal, sys
sys.path[:0] = [{src!r}, {tests!r}]
from blazen.stores import open_store
from workers.flows import fanout

url = {url!r}
Base = type(open_store(url))


class KillAfterTheEnding(Base):
    async def commit(self, run_id, commits, *, owner, epoch=None):
        seq = await super().commit(run_id, commits, owner=owner, epoch=epoch)
        if any(c.status == "completed" for c in commits):
            os.kill(os.getpid(), signal.SIGKILL)  # right after the ending commit landed
        return seq


async def main():
    wf = fanout(KillAfterTheEnding.from_url(url))
    handler = await wf.run_with_handler(seed=5)
    print(handler.run_id, flush=True)
    await handler.result()
    print("survived", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                                     pytest.param("redis", marks=pytest.mark.redis)])  # fmt: skip
def test_a_kill_right_after_the_ending_commit_leaves_a_completed_run(
    backend: str, tmp_path: Path
) -> None:
    url, cleanup = make_url(backend, tmp_path)
    try:
        script = KILLER.format(src=str(SRC), tests=str(HERE.parent), url=url)
        child = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert child.returncode == -9, child.stderr
        (run_id,) = child.stdout.split()  # it never printed "survived"

        async def check() -> None:
            store = open_store(url)
            try:
                record = await store.get_run(run_id)
                assert (record.status, record.owner) == ("completed", None)
                history = [c.step for c in await store.checkpoints(run_id)]
                assert history[-1] == "gather"
                assert "<end>" not in history
                wf = fanout(store)
                assert (await wf.wait(run_id)).result == expected(5)
                assert await wf.recover() == []
                with pytest.raises(StoreConflictError, match="is already completed"):
                    await wf.resume_run(run_id)
                assert [c.step for c in await store.checkpoints(run_id)] == history
            finally:
                await store.close()

        asyncio.run(check())
    finally:
        cleanup()  # type: ignore[operator]


# -- 2. resume_run after another process completed the run -------------------------------


class StaleReads(MemoryStore):
    """Answers ``get_run``/``list_runs`` with records read earlier (another process changed
    the runs since): the race of defects 2 and 3, made deterministic."""

    def __init__(self) -> None:
        super().__init__()
        self.stale: dict[str, RunRecord] = {}

    async def get_run(self, run_id: str) -> RunRecord:
        return self.stale.get(run_id) or await super().get_run(run_id)

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        fresh = await super().list_runs(workflow_name=workflow_name, status=None, limit=limit)
        records = [self.stale.get(r.run_id, r) for r in fresh]
        return [r for r in records if status in (None, r.status)][:limit]


class Gate(Event):
    pass


def gated(store: CheckpointStore, gate: asyncio.Event, ran: list[str]) -> Workflow:
    @step
    async def first(ctx: Context, ev: StartEvent) -> Gate:
        ran.append(ctx.run_id())
        return Gate()

    @step
    async def second(ctx: Context, ev: Gate) -> StopEvent:
        await gate.wait()
        return StopEvent(result="done")

    return Workflow("gated", [first, second], store=store)


async def test_resume_of_a_run_completed_meanwhile_is_refused_and_it_stays_completed() -> None:
    store = StaleReads()
    gate, ran = asyncio.Event(), []
    wf = gated(store, gate, ran)
    handler = await wf.run_with_handler()
    store.stale[handler.run_id] = await store.get_run(handler.run_id)  # read while running
    gate.set()
    assert (await handler.result()).result == "done"
    with pytest.raises(StoreConflictError, match="is already completed; there is nothing"):
        await gated(store, gate, ran).resume_run(handler.run_id)
    store.stale.clear()
    record = await store.get_run(handler.run_id)
    assert (record.status, record.error) == ("completed", None)
    assert ran == [handler.run_id]


# -- 3. recover() skips finished and owned runs ---------------------------------------------


async def test_recover_skips_runs_finished_or_owned_meanwhile() -> None:
    store = StaleReads()
    gate, ran = asyncio.Event(), []
    wf = gated(store, gate, ran)
    finished = await wf.run_with_handler()
    live = await wf.run_with_handler()
    store.stale[finished.run_id] = await store.get_run(finished.run_id)
    gate.set()
    await finished.result()
    gate.clear()
    crashed = await wf.run_with_handler()
    crashed._run.hooks.abandon()  # type: ignore[union-attr]  # as if its process had died
    handlers = await gated(store, gate, ran).recover()
    assert [h.run_id for h in handlers] == [crashed.run_id]  # not `finished`, not `live`
    gate.set()
    assert (await handlers[0].result()).result == "done"
    assert (await live.result()).result == "done"
    store.stale.clear()
    statuses = {r.run_id: r.status for r in await store.list_runs()}
    assert set(statuses.values()) == {"completed"}


# -- 4. Workflow.resume(snapshot) of a completed stored run ------------------------------------


async def test_resuming_the_snapshot_of_a_completed_stored_run_is_refused(
    store: CheckpointStore,
) -> None:
    charged: list[str] = []
    gate = asyncio.Event()

    @step
    async def refund(ctx: Context, ev: StartEvent) -> Gate:
        await gate.wait()
        return Gate()

    @step
    async def charge(ctx: Context, ev: Gate) -> StopEvent:
        charged.append(ctx.run_id())
        return StopEvent(result="refunded")

    wf = Workflow("refund", [refund, charge], store=store)
    handler = await wf.run_with_handler()
    snapshot = await handler.snapshot()
    with pytest.raises(StoreConflictError, match=r"is owned by .*, which is running it"):
        await wf.resume(snapshot)  # the run is alive: a second copy would run it twice
    gate.set()
    await handler.result()
    with pytest.raises(StoreConflictError, match=r"cannot be resumed: run .* already completed"):
        await wf.resume(snapshot)
    assert charged == [handler.run_id]
    history = [c.step for c in await store.checkpoints(handler.run_id)]
    assert history.count("charge") == 1
    assert (await store.get_run(handler.run_id)).status == "completed"


# -- 5. what the caller sees follows the commits ---------------------------------------------


class SlowCommits(MemoryStore):
    """Holds the commit of step ``ask`` until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        if any(c.step == "ask" for c in commits):
            self.entered.set()
            await self.release.wait()
        return await super().commit(run_id, commits, owner=owner, epoch=epoch)


def asking(store: CheckpointStore, asked: list[str]) -> Workflow:
    @step
    async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        asked.append(ctx.run_id())
        return InputRequestEvent(request_id="approve", prompt="approve?")

    @step
    async def answer(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ev.response)

    return Workflow("asking", [ask, answer], store=store)


async def test_an_input_request_is_shown_only_once_its_commit_landed() -> None:
    store = SlowCommits()
    handler = await asking(store, []).run_with_handler()
    seen: list[Any] = []

    async def follow() -> None:
        async for event in handler.stream_events():
            seen.append(event)
            if isinstance(event, InputRequestEvent):
                record = await store.get_run(handler.run_id)
                seen.append((record.status, record.last_seq))
                return

    follower = asyncio.ensure_future(follow())
    await store.entered.wait()
    assert list(handler._run.stream.read.__self__._events) == []  # type: ignore[attr-defined]
    assert seen == []  # the asking step's commit has not landed: nothing is shown
    store.release.set()
    await follower
    assert isinstance(seen[0], InputRequestEvent)
    assert seen[1] == ("waiting", 1)  # the commit that holds the request is in the store
    assert handler.status == "waiting"


def test_a_waiting_run_says_waiting_and_survives_its_caller(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    asked: list[str] = []

    async def first() -> str:
        store = open_store(url)
        handler = await asking(store, asked).run_with_handler()
        async for event in handler.stream_events():
            if isinstance(event, InputRequestEvent):
                break
        assert handler.status == "waiting"
        waiting = await store.list_runs(status="waiting")
        assert [r.run_id for r in waiting] == [handler.run_id]
        await handler.pause()
        assert [r.run_id for r in await store.list_runs(status="waiting")] == [handler.run_id]
        await store.close()
        return handler.run_id  # the caller exits right after seeing the question

    run_id = asyncio.run(first())

    async def second() -> Any:
        store = open_store(url)
        try:
            (handler,) = await asking(store, asked).recover()
            assert handler.status == "waiting"
            await handler.respond_to_input("approve", "yes")
            return (await handler.result()).result
        finally:
            await store.close()

    assert asyncio.run(second()) == "yes"
    assert asked == [run_id]  # the asking step ran once: its commit had landed


def test_a_kill_after_the_question_does_not_ask_again(tmp_path: Path) -> None:
    """The same as above across processes: SIGKILL as soon as the question is seen."""
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    log = tmp_path / "asked.log"
    script = f"""
import asyncio, os, signal, sys
sys.path[:0] = [{str(SRC)!r}, {str(HERE.parent)!r}]
from blazen import InputRequestEvent
from blazen.stores import open_store
from workers.test_defects import asking

class Log(list):
    def append(self, run_id):
        with open({str(log)!r}, "a") as fh:
            fh.write(run_id + "\\n")

async def main():
    handler = await asking(open_store({url!r}), Log()).run_with_handler()
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            print(handler.run_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""
    env = dict(os.environ)
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert child.returncode == -9, child.stderr
    run_id = child.stdout.strip()

    async def resume() -> Any:
        store = open_store(url)
        try:
            record = await store.get_run(run_id)
            assert record.status == "waiting"
            await store.respond(run_id, "approve", "from another process")
            (handler,) = await asking(store, []).recover()
            return (await handler.result()).result
        finally:
            await store.close()

    assert asyncio.run(resume()) == "from another process"
    assert log.read_text().split() == [run_id]


# -- a process stalled past its lease -----------------------------------------------------


async def test_a_renewal_sent_before_a_stall_does_not_let_a_step_start() -> None:
    # A process stopped (SIGSTOP) past its lease finds, when it continues, the answer to a
    # renewal it sent before the stop: that confirms the lease as of the send, which is long
    # gone. No step may start until a renewal sent since confirms it (or finds it lost).
    release = asyncio.Event()

    @step
    async def hold_on(ctx: Context, ev: StartEvent) -> StopEvent:
        await release.wait()
        return StopEvent(result="done")

    wf = Workflow("stalled", [hold_on], store=MemoryStore(), lease=30.0)
    handler = await wf.run_with_handler()
    hooks = handler._run.hooks  # the run's lease side (white box: the stall is simulated)
    hold = hooks.hold
    hold.keeper.poke = lambda: None  # no renewal unless this test makes one
    long_ago = hold.keeper.loop.time() - 10 * hold.lease
    hold.confirmed_at = long_ago  # as after a stall past the lease
    gate = asyncio.ensure_future(hooks.lease_checked())
    await asyncio.sleep(0)
    assert not gate.done()
    hold.confirm(long_ago + 1)  # the late answer to a renewal sent before the stall
    for _ in range(3):
        await asyncio.sleep(0)
    assert not gate.done()  # still waiting: that renewal proves nothing now
    hold.confirm(hold.keeper.loop.time())  # a renewal sent after the stall
    await asyncio.wait_for(gate, 5)
    release.set()
    assert (await handler.result()).result == "done"
