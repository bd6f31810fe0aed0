"""A store that fails while a durable run writes to it: the run fails, the data stays usable.

``FailingStore`` wraps a real store (SQLite file, PostgreSQL, Redis) and makes the
``commit`` call carrying the run's k-th commit raise, once (a transient error) or from
then on (the store is down). The run must fail with a ``StoreError`` naming the failed
checkpoint; the store must still load the run; resuming it on the real store must give
the exact result without running again any side effect whose commit had landed.

The run's last commit (the one carrying its result) is a case of its own: it fails after
the final step returned its StopEvent, while earlier commits may still be in flight.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from blazen import StoreError
from blazen.stores.base import CheckpointStore, Commit, open_store

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import matrix_flows  # noqa: E402
from matrix_backends import BACKENDS, store_url  # noqa: E402

SEED = int(os.environ.get("BLAZEN_FAULT_SEED", "0"))
# Commits a full run makes (commit 0, with the StartEvent, is create_run's): the k drawn
# for a failure mid-run is below this; k equal to it is the final commit.
COMMITS = {"chain": 9, "fanout": 13, "hitl": 4, "blobs": 3}
STEP_TIME = "0.005"  # seconds each step works after its side effect: commits land meanwhile


INJECTED = "injected failure of commit"


class InjectedFailure(OSError):
    """The error ``FailingStore`` raises (an ``OSError``, as a lost disk or socket would)."""


class FailingStore:
    """Forwards everything to ``inner``; the commit call carrying commit ``fail_at`` raises."""

    def __init__(self, inner: CheckpointStore, fail_at: int, down: bool) -> None:
        self.inner, self.fail_at, self.down = inner, fail_at, down
        self.commits = 0  # commits offered so far, in every call
        self.failed_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        first, self.commits = self.commits + 1, self.commits + len(commits)
        if first <= self.fail_at <= self.commits or (self.down and self.failed_calls):
            self.failed_calls += 1
            raise InjectedFailure(f"{INJECTED} {self.fail_at}")
        return await self.inner.commit(run_id, commits, owner=owner, epoch=epoch)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The side-effect log of the flows, fresh per test."""
    path = tmp_path / "effects.log"
    monkeypatch.setenv("MATRIX_LOG", str(path))
    monkeypatch.setenv("MATRIX_DELAY", STEP_TIME)
    return path


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flow", matrix_flows.FLOWS)
@pytest.mark.parametrize("down", [False, True], ids=["once", "down"])
async def test_a_failing_commit_fails_the_run_and_leaves_it_resumable(
    tmp_path: Path, log: Path, flow: str, backend: str, down: bool
) -> None:
    url, drop = store_url(backend, tmp_path)
    try:
        await _fail_then_resume(url, log, flow, backend, down)
    finally:
        drop()


async def _fail_then_resume(url: str, log: Path, flow: str, backend: str, down: bool) -> None:
    fail_at = random.Random(f"{SEED}:{flow}:{backend}:{down}").randint(1, COMMITS[flow] - 1)
    where = f"seed {SEED}, {flow} on {backend}, commit {fail_at} fails {'on' if down else 'once'}"
    inner = open_store(url)
    try:
        failing = FailingStore(inner, fail_at, down)
        handler = await matrix_flows.build(flow, failing).run_with_handler()  # type: ignore[arg-type]
        with pytest.raises(Exception, match=f"{INJECTED} {fail_at}") as info:
            await matrix_flows.drive(handler)
        assert failing.failed_calls >= 1, where
        # Also when the commit failed after the StopEvent (commits are pipelined): the run's
        # ending never became durable, so the run failed with a StoreError.
        assert isinstance(info.value, StoreError), f"{where}: {info.value!r}"
        assert str(info.value).startswith("checkpoint failed: "), where
        assert handler.status == "failed", where
        await _check_resumable(inner, handler.run_id, flow, log, where)
    finally:
        await inner.close()


async def _check_resumable(
    inner: CheckpointStore, run_id: str, flow: str, log: Path, where: str
) -> None:
    """The failed run loads from the store and resumes to the exact result, no effect twice."""
    # The stored status is the last one that landed (not "failed": the "<end>" commit the
    # run queues when it fails is dropped when the failure came from the committer itself).
    assert (await inner.get_run(run_id)).status in ("running", "waiting", "failed"), where
    loaded = await inner.load(run_id)
    key = matrix_flows.EFFECT_KEY
    committed = [k[len(key) :] for k in loaded.context_state if k.startswith(key)]
    before = Counter(log.read_text().split())
    assert set(committed) <= set(before), where

    resumed = await matrix_flows.build(flow, inner).resume_run(run_id)
    assert await matrix_flows.drive(resumed) == matrix_flows.RESULTS[flow](), where
    assert (await inner.get_run(run_id)).status == "completed", where
    after = Counter(log.read_text().split())
    for name in matrix_flows.EFFECTS[flow]:
        assert 1 <= after[name] <= 2, f"{where}: {name} ran {after[name]} times"
    for name in committed:
        assert after[name] == 1, f"{where}: {name} was committed but ran again after the resume"


@pytest.mark.parametrize("flow", matrix_flows.FLOWS)
async def test_a_failing_final_commit_is_a_store_error_and_leaves_the_run_resumable(
    tmp_path: Path, log: Path, flow: str
) -> None:
    inner = open_store(str(tmp_path / "final.db"))
    try:
        failing = FailingStore(inner, COMMITS[flow], down=False)
        handler = await matrix_flows.build(flow, failing).run_with_handler()  # type: ignore[arg-type]
        with pytest.raises(StoreError, match=f"checkpoint failed: {INJECTED} {COMMITS[flow]}"):
            await matrix_flows.drive(handler)
        assert handler.status == "failed"
        await _check_resumable(inner, handler.run_id, flow, log, f"{flow}, final commit fails")
    finally:
        await inner.close()


@pytest.mark.parametrize("flow", matrix_flows.FLOWS)
async def test_the_failing_store_counts_commits_across_calls(
    tmp_path: Path, log: Path, flow: str
) -> None:
    # The harness itself: with the failure past the end, the run completes and every
    # commit of the flow went through the wrapper.
    inner = open_store(str(tmp_path / "count.db"))
    try:
        failing = FailingStore(inner, fail_at=10**6, down=True)
        handler = await matrix_flows.build(flow, failing).run_with_handler()  # type: ignore[arg-type]
        assert await matrix_flows.drive(handler) == matrix_flows.RESULTS[flow]()
        assert failing.commits == COMMITS[flow]
        assert failing.failed_calls == 0
    finally:
        await inner.close()
