"""The memory store's lease, queue and control operations (see ``_coord.Coordinated``).

A mixin of ``MemoryStore``: every operation runs under the store's lock, so each one is
atomic; times are this process's clock. The run objects are ``memory._Run``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from blazen.errors import StoreError
from blazen.status import FINISHED
from blazen.stores._batch import EncodedBatch, event_problem
from blazen.stores._codec import Clock
from blazen.stores._coord import Claim, Grab, Grabbed
from blazen.stores._memory_signals import Signals
from blazen.stores.base import PendingEvent, Renewal, RunRecord, RunStatus, Subscription

__all__ = ["MemoryLeases"]


class MemoryLeases:
    """The lease hooks of ``MemoryStore`` over its runs, lock, clock and signals."""

    _runs: dict[str, Any]
    _lock: threading.Lock
    _clock: Clock
    _signals: Signals

    def _apply(self, run: Any, batch: EncodedBatch, now: float) -> None:
        raise NotImplementedError

    async def _acquire(self, claim: Claim) -> Grabbed:
        with self._lock:
            run = self._runs.get(claim.run_id)
            if run is None:
                return Grabbed(Grab.UNKNOWN)
            now = time.time()
            if run.record.status not in claim.statuses:
                return Grabbed(Grab.STATUS, run.public_record())
            if not run.free(now, claim.dead):
                return Grabbed(Grab.HELD, run.public_record())
            run.take(claim.owner, claim.lease, now)
            return Grabbed(Grab.OK, run.public_record())

    async def _acquire_next(
        self, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
    ) -> tuple[RunRecord | None, float | None, list[str]]:
        with self._lock:
            now = time.time()
            wanted = [
                run
                for run in self._runs.values()
                if run.record.workflow_name in workflows
                and run.record.status in ("queued", "running", "waiting")
            ]
            takeovers = [run for run in wanted if run.record.status != "queued"]
            queued = [run for run in wanted if run.record.status == "queued"]
            for run in (*takeovers, *queued):
                if _needs_worker(run, now, dead):
                    run.take(owner, lease, now)
                    return run.public_record(), None, []
            leases = [run.record for run in wanted if run.record.owner and run.record.lease_until]
            ends = [r.lease_until - now for r in leases if r.lease_until is not None]
            return None, min(ends) if ends else None, [str(r.owner) for r in leases]

    async def _holders(self, workflows: Sequence[str], host: str) -> list[str]:
        with self._lock:
            now = time.time()
            return [
                run.record.owner
                for run in self._runs.values()
                if run.record.workflow_name in workflows
                and run.record.status in ("queued", "running", "waiting")
                and run.record.owner is not None
                and run.record.owner.startswith(host)
                and (run.record.lease_until or 0) > now
            ]

    async def _renew(self, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
        lost, cancel, inbox = set(), set(), set()
        with self._lock:
            now = time.time()
            for run_id, (owner, epoch) in held.items():
                run = self._runs.get(run_id)
                if run is None or run.record.owner != owner or run.record.epoch != epoch:
                    lost.add(run_id)
                    continue
                run.record = dataclasses.replace(run.record, lease_until=now + lease)
                if run.record.cancel_requested:
                    cancel.add(run_id)
                if run.posted():
                    inbox.add(run_id)
        return Renewal(frozenset(lost), frozenset(cancel), frozenset(inbox))

    async def _end_lease(self, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.record.owner != owner or run.record.epoch != epoch:
                return False
            status = run.record.status
            if status not in FINISHED and (requeue or (status == "waiting" and run.posted())):
                run.drop("queued")
                queued = True
            else:
                run.drop()
                queued = False
        if queued:
            self._signals.notify()
        return True

    async def _post(self, run_id: str, batch: EncodedBatch) -> Grab:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return Grab.UNKNOWN
            if run.record.status in FINISHED:
                return Grab.STATUS
            first = run.record.last_seq + 1
            if event_problem(batch, run_id, first, run.pending_before) is not None:
                raise StoreError(f"run {run_id!r}: a posted event id is already taken")
            self._apply(run, batch, self._clock.now())
            if run.record.status == "waiting" and run.free(time.time(), ()):
                run.drop("queued")
        self._signals.notify()
        return Grab.OK

    async def _flag_cancel(self, run_id: str) -> Grabbed:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return Grabbed(Grab.UNKNOWN)
            if run.record.status in FINISHED:
                return Grabbed(Grab.STATUS, run.public_record())
            run.record = dataclasses.replace(run.record, cancel_requested=True)
            record = run.public_record()
        self._signals.notify()
        return Grabbed(Grab.OK, record)

    async def _requeue(
        self, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
    ) -> Grabbed:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return Grabbed(Grab.UNKNOWN)
            if run.record.status not in statuses:
                return Grabbed(Grab.STATUS, run.public_record())
            if not run.free(time.time(), dead):
                return Grabbed(Grab.HELD, run.public_record())
            run.drop("queued")
            record = run.public_record()
        self._signals.notify()
        return Grabbed(Grab.OK, record)

    async def _inbox(self, run_id: str) -> list[PendingEvent] | None:
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else [ev.row()[1] for ev in run.posted()]

    def subscribe(self) -> Subscription:
        """Wake-ups from this store's writes (in any thread of this process)."""
        return self._signals.subscribe()


def _needs_worker(run: Any, now: float, dead: Sequence[str]) -> bool:
    """A queued run with a free lease, or a running/waiting one whose owner is gone."""
    record = run.record
    if record.status == "queued" or record.owner is not None:
        return bool(run.free(now, dead))
    return bool(record.status == "running")
