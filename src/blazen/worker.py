"""``Worker``: runs the queued runs of some workflows from one store, and takes over the
runs whose owner died.

A worker claims one run at a time with the store's atomic ``acquire_next`` (a new fencing
epoch), continues it from its last commit, and keeps up to ``concurrency`` runs going. Any
number of workers, on any number of machines, may share a PostgreSQL or Redis store (or an
SQLite file on one machine): a run is executed by one of them at a time, and a run whose
worker dies is taken over once its lease expires (at once when the dead worker was on the
same machine). Idle workers sleep until the store notifies them of new work (PostgreSQL
``LISTEN``, a blocking Redis stream read), the next lease expiry, or ``idle_check``
seconds; on SQLite they poll with a backoff. ``stop()`` drains: no new claims, running runs
get ``drain_timeout`` seconds to finish, then the rest are released for other workers.
See docs/workers.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from blazen._meta import STEP_END
from blazen._owners import new_owner
from blazen._runtime.claims import check_matches, continue_claimed
from blazen._runtime.durable import DurableHooks
from blazen._runtime.lease import LeaseKeeper
from blazen.errors import StoreConflictError, StoreError, WorkflowError
from blazen.stores.base import CheckpointStore, Commit, Lease, open_store
from blazen.workflow import Workflow

__all__ = ["Worker", "WorkerStats"]

log = logging.getLogger("blazen.worker")

POLL_MIN = 0.05
POLL_MAX = 1.0
"""Idle polling backs off between these (stores without notifications: SQLite)."""


@dataclass
class WorkerStats:
    """What a worker did: runs claimed, finished, handed over (released), lost (another
    worker took them over) and refused (could not start them)."""

    claimed: int = 0
    finished: int = 0
    handed_over: int = 0
    lost: int = 0
    refused: int = 0
    stale_commits_refused: int = 0
    """Commits the store refused because this worker's lease had been lost (fencing)."""


class Worker:
    """Runs the queued and abandoned runs of ``workflows`` (see the module docstring).

    ``store`` defaults to the workflows' own store (they must all have the same one); the
    lease length defaults to the first workflow's ``lease``.
    """

    def __init__(
        self,
        workflows: Sequence[Workflow],
        store: CheckpointStore | str | None = None,
        *,
        concurrency: int = 8,
        lease: float | None = None,
        drain_timeout: float = 10.0,
        idle_check: float = 1.0,
    ) -> None:
        if not workflows:
            raise WorkflowError("a worker needs at least one workflow")
        self.workflows: dict[str, Workflow] = {}
        for wf in workflows:
            if wf.name in self.workflows and self.workflows[wf.name] is not wf:
                raise WorkflowError(f"two workflows named {wf.name!r} given to one worker")
            self.workflows[wf.name] = wf
        self.store = _the_store(workflows, store)
        if not isinstance(concurrency, int) or concurrency < 1:
            raise WorkflowError(f"concurrency must be an int >= 1, not {concurrency!r}")
        self.concurrency = concurrency
        self.lease = workflows[0].lease if lease is None else float(lease)
        self.drain_timeout = drain_timeout
        self.idle_check = idle_check
        self.stats = WorkerStats()
        self.active: dict[str, DurableHooks] = {}
        self._stopping = asyncio.Event()
        self._freed = asyncio.Event()

    def stop(self) -> None:
        """Start draining: claim nothing more; ``run()`` returns once the runs are settled."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopping.is_set()

    async def run(self) -> None:
        """Claim and execute runs until ``stop()``, then drain."""
        subscription = self.store.subscribe()
        polling = bool(getattr(subscription, "polling", False))
        delay = POLL_MIN
        names = list(self.workflows)
        try:
            await subscription.wait(0)  # listening before the first look: no wake-up is missed
            while not self._stopping.is_set():
                if len(self.active) >= self.concurrency:
                    self._freed.clear()
                    await self._first(self._freed.wait())
                    continue
                try:
                    found = await self.store.acquire_next(new_owner(), names, lease=self.lease)
                except StoreError as exc:
                    log.warning("blazen worker: claiming a run failed: %s", exc)
                    await self._first(asyncio.sleep(delay))
                    delay = min(delay * 2, POLL_MAX)
                    continue
                if found.lease is not None:
                    await self._start(found.lease)
                    delay = POLL_MIN
                    continue
                timeout = delay if polling else self.idle_check
                if found.retry_in is not None:
                    timeout = min(timeout, found.retry_in + 0.01)
                if await self._first(subscription.wait(timeout)):
                    LeaseKeeper.of(self.store).poke()  # maybe a cancel or an answer
                if polling:
                    delay = min(delay * 2, POLL_MAX)
        finally:
            await subscription.close()
            await self._drain()

    async def _first(self, waiting: object) -> bool:
        """Await ``waiting`` unless ``stop()`` comes first; its result (``False`` if stopped)."""
        task = asyncio.ensure_future(waiting)  # type: ignore[call-overload]
        stop = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, stop):
            if pending not in done:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
        return bool(task in done and not task.cancelled() and task.exception() is None
                    and task.result())  # fmt: skip

    async def _start(self, lease: Lease) -> None:
        """Continue a claimed run in the background (or refuse it clearly)."""
        self.stats.claimed += 1
        wf = self.workflows[lease.record.workflow_name]
        record = lease.record
        try:
            check_matches(wf._options, lease.run_id, record.workflow_name, record.metadata)
        except StoreConflictError as exc:
            await self._refuse(lease, exc)
            return
        try:
            run = await continue_claimed(
                wf._options, self.store, lease, lease_length=self.lease, follow=False
            )
        except (StoreError, WorkflowError) as exc:
            self.stats.refused += 1
            log.error("blazen worker: run %s cannot be continued: %s", lease.run_id, exc)
            return
        hooks = run.hooks
        assert isinstance(hooks, DurableHooks)
        self.active[run.run_id] = hooks
        run.start()
        asyncio.get_running_loop().create_task(self._settle(run.run_id, hooks))

    async def _refuse(self, lease: Lease, error: StoreConflictError) -> None:
        """A run this worker's code cannot continue: fail it, naming why (a later worker with
        the right code may retry it: ``blazen runs requeue``)."""
        self.stats.refused += 1
        log.error("blazen worker: run %s fails: %s", lease.run_id, error)
        commit = Commit(STEP_END, status="failed", error=f"{type(error).__name__}: {error}")
        with contextlib.suppress(StoreError):
            await self.store.commit(lease.run_id, [commit], owner=lease.owner, epoch=lease.epoch)

    async def _settle(self, run_id: str, hooks: DurableHooks) -> None:
        how = await hooks.settled
        self.stats.stale_commits_refused += hooks.committer.refused
        if how == "finished":
            self.stats.finished += 1
        elif how == "lost":
            self.stats.lost += 1
        else:
            self.stats.handed_over += 1
        self.active.pop(run_id, None)
        self._freed.set()

    async def _drain(self) -> None:
        """Let the running runs finish for ``drain_timeout`` s, then release the others."""
        if self.active and self.drain_timeout > 0:
            pending = [
                asyncio.ensure_future(asyncio.shield(h.settled)) for h in self.active.values()
            ]
            await asyncio.wait(pending, timeout=self.drain_timeout)
            for future in pending:
                future.cancel()
        left = list(self.active.values())
        outcomes = await asyncio.gather(*(h.hand_off() for h in left), return_exceptions=True)
        for hooks, outcome in zip(left, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("blazen worker: releasing run %s failed: %s", hooks.run.run_id, outcome)
                hooks.abandon()  # its lease expires: another worker takes it
        while self.active:
            self._freed.clear()
            await self._freed.wait()


def _the_store(
    workflows: Sequence[Workflow], store: CheckpointStore | str | None
) -> CheckpointStore:
    """The store a worker uses: ``store``, else the workflows' one."""
    if isinstance(store, str):
        return open_store(store)
    if store is not None:
        return store
    stores = {id(wf.store): wf.store for wf in workflows}
    if len(stores) != 1 or None in stores.values():
        raise WorkflowError(
            "a worker needs one store: pass store=..., or give every workflow the same store="
        )
    (only,) = stores.values()
    assert only is not None
    return only
