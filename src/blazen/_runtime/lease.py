"""This process's claims on durable runs: background renewal, release and re-claim.

A ``LeaseHold`` is one claim (owner id, fencing epoch, lease length) on one run. While held,
the ``LeaseKeeper`` of its store and event loop renews it with every other hold of that loop
in one store call per tick (a third of the shortest lease, at most ``CONTROL_POLL``), and
hands the run's hooks what the renewal reports: the lease was lost (another process claimed
the run), a cancel was requested, an answer was posted. A released hold (a run paused or
idle-waiting for input) is *watched* instead: each tick reads the run's record, so the hooks
learn when another process continued the run or when an answer made it claimable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from blazen import _owners
from blazen.errors import LeaseLostError, StoreError
from blazen.stores.base import CheckpointStore, Lease, RunRecord

__all__ = ["CONTROL_POLL", "LeaseHold", "LeaseKeeper", "LeaseWatcher"]

CONTROL_POLL = 1.0
"""Seconds between two renewals at most: how soon a cancel or a posted answer is seen."""
FRESH = 0.9
"""A claim counts as valid here for this fraction of the lease after its last confirmation;
past it (the process stalled), no step starts until a renewal confirms the lease."""

log = logging.getLogger("blazen.lease")


class LeaseWatcher(Protocol):
    """What a hold reports to (the durable hooks of its run)."""

    def lease_lost(self, error: LeaseLostError) -> None:
        """Another process holds the run now: stop at once, without any further commit."""

    def cancel_requested(self) -> None:
        """``cancel(run_id)`` was called in some process: abort the run."""

    def answers_posted(self) -> None:
        """``respond`` posted answers for this run: deliver them."""

    def record_changed(self, record: RunRecord) -> None:
        """A released run's record changed (claimed elsewhere, or queued by an answer)."""


class LeaseHold:
    """One claim of this process on one run (see the module docstring)."""

    def __init__(
        self,
        store: CheckpointStore,
        run_id: str,
        lease: float,
        watcher: LeaseWatcher,
        alive: Callable[[], bool],
    ) -> None:
        self.store, self.run_id, self.lease = store, run_id, lease
        self.watcher = watcher
        self.alive = alive
        self.owner = ""
        self.epoch = 0
        self.held = False
        self.watching = False
        self.lock = asyncio.Lock()
        self.keeper = LeaseKeeper.of(store)
        self.confirmed_at = 0.0
        self.waiters: list[asyncio.Future[None]] = []

    # -- states --------------------------------------------------------------------------

    def took(self, owner: str, epoch: int) -> None:
        """The store recorded our claim (``create_run``, ``acquire``): hold and renew it."""
        if self.owner and self.owner != owner:
            _owners.forget(self.owner)
        self.owner, self.epoch, self.held, self.watching = owner, epoch, True, False
        _owners.live(owner, self.alive)
        self.confirm(self.keeper.loop.time())
        self.keeper.add(self)

    def ended(self) -> None:
        """The lease is over (the run finished, the claim was lost or released)."""
        self.held = self.watching = False
        if self.owner:
            _owners.forget(self.owner)
        self.keeper.remove(self)
        self._wake()

    def confirm(self, since: float) -> None:
        """The store extended the lease by a request sent at ``since`` (loop time)."""
        self.confirmed_at = max(self.confirmed_at, since)
        self._wake()

    def fresh(self) -> bool:
        """Whether the lease surely still holds (see ``FRESH``)."""
        return self.keeper.loop.time() < self.confirmed_at + self.lease * FRESH

    async def confirmed(self) -> None:
        """Wait for the next renewal of a stale-looking lease (or for its end)."""
        waiter = self.keeper.loop.create_future()
        self.waiters.append(waiter)
        self.keeper.poke()
        await waiter

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def release(self, *, requeue: bool = False, watch: bool = False) -> bool:
        """End our lease in the store (``watch``: keep following the released run)."""
        if not self.held:
            return False
        self.held = False
        try:
            ok = await self.store.release(self.run_id, self.owner, self.epoch, requeue=requeue)
        finally:
            self.ended()
        if ok and watch:
            self.watching = True
            self.keeper.add(self)
        return ok

    async def reacquire(self) -> None:
        """Claim a run we released again; ``LeaseLostError`` when another process has claimed
        it meanwhile (our copy of the run is then out of date)."""
        released = self.epoch
        lease = await self.store.acquire(
            self.run_id, _owners.new_owner(), lease=self.lease, failed=False
        )
        if lease.epoch != released + 1:
            with contextlib.suppress(StoreError):
                await self.store.release(self.run_id, lease.owner, lease.epoch)
            self.ended()
            raise LeaseLostError(
                f"run {self.run_id} was continued by another process since this one released it"
                f" (epoch {released} -> {lease.epoch - 1}); its state here is out of date"
            )
        self.took(lease.owner, lease.epoch)

    def adopt(self, lease: Lease) -> None:
        """Hold a claim made by ``acquire``/``acquire_next``."""
        self.took(lease.owner, lease.epoch)


class LeaseKeeper:
    """Renews (and watches) every hold of one store in one event loop."""

    _all: dict[tuple[int, asyncio.AbstractEventLoop], LeaseKeeper] = {}  # noqa: RUF012

    def __init__(self, store: CheckpointStore, loop: asyncio.AbstractEventLoop) -> None:
        self.store, self.loop = store, loop
        # Holds by identity: a process may watch a run it released while another of its
        # claims (a worker's) holds the same run.
        self.holds: dict[LeaseHold, None] = {}
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    @classmethod
    def of(cls, store: CheckpointStore) -> LeaseKeeper:
        """The running loop's keeper for ``store``."""
        loop = asyncio.get_running_loop()
        for key in [k for k in cls._all if k[1].is_closed()]:
            del cls._all[key]
        key = (id(store), loop)
        keeper = cls._all.get(key)
        if keeper is None or keeper.store is not store:
            keeper = cls._all[key] = cls(store, loop)
        return keeper

    def add(self, hold: LeaseHold) -> None:
        """Renew (or watch) ``hold`` from now on."""
        self.holds[hold] = None
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run(), name="blazen-lease-keeper")

    def remove(self, hold: LeaseHold) -> None:
        """Stop renewing ``hold``."""
        self.holds.pop(hold, None)

    def poke(self) -> None:
        """Renew now (something may have been posted or cancelled)."""
        self.wake.set()

    def _tick(self) -> float:
        shortest = min((h.lease for h in self.holds), default=CONTROL_POLL * 3)
        return min(shortest / 3, CONTROL_POLL)

    async def _run(self) -> None:
        while self.holds:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._tick())
            self.wake.clear()
            try:
                await self._renew()
                await self._watch()
            except StoreError as exc:  # the store is unreachable: fencing keeps runs safe
                log.warning("blazen: renewing leases failed: %s", exc)
            except Exception:  # never let one bad callback stop renewals
                log.exception("blazen: lease keeper error")

    async def _renew(self) -> None:
        held = {h.run_id: h for h in self.holds if h.held}
        by_length: dict[float, dict[str, tuple[str, int]]] = {}
        for rid, h in held.items():
            by_length.setdefault(h.lease, {})[rid] = (h.owner, h.epoch)
        for lease, claims in by_length.items():
            sent = self.loop.time()
            renewal = await self.store.renew(claims, lease=lease)
            for rid, hold in held.items():
                kept = rid in claims and rid not in renewal.lost and hold.held
                if kept and (hold.owner, hold.epoch) == claims[rid]:
                    hold.confirm(sent)
            for rid in renewal.lost:
                hold = held[rid]
                if hold.held and (hold.owner, hold.epoch) == claims[rid]:
                    record = await self._record(rid)  # who has it now, for the message
                    if hold.held and (hold.owner, hold.epoch) == claims[rid]:
                        error = _lost(rid, hold, record)
                        hold.ended()  # no await from here: the run stops before a step starts
                        hold.watcher.lease_lost(error)
            for rid in renewal.cancel:
                if held[rid].held:
                    held[rid].watcher.cancel_requested()
            for rid in renewal.inbox:
                if held[rid].held:
                    held[rid].watcher.answers_posted()

    async def _record(self, run_id: str) -> RunRecord | None:
        """The run's record now, to say who has it (``None`` when it cannot be read)."""
        try:
            return await self.store.get_run(run_id)
        except StoreError:
            return None

    async def _watch(self) -> None:
        for hold in list(self.holds):
            if not hold.watching:
                continue
            try:
                record = await self.store.get_run(hold.run_id)
            except StoreError:
                continue
            if hold.watching:
                hold.watcher.record_changed(record)


def _lost(run_id: str, hold: LeaseHold, record: RunRecord | None) -> LeaseLostError:
    """The error of a run whose lease a renewal found lost (worded as the store words a
    commit refused for the same reason)."""
    mine = hold.owner
    see = f"see `blazen runs show {run_id}`"
    if record is not None and record.owner is not None and record.owner != mine:
        return LeaseLostError(
            f"run {run_id!r} was taken over by another process (owner {record.owner!r}) while"
            f" this one ({mine!r}) was running it: this commit was refused (nothing written) and"
            f" this process stops running the run; the other owner continues it ({see})"
        )
    return LeaseLostError(
        f"run {run_id!r}: this process ({mine!r}) lost its lease (epoch {hold.epoch}): the run"
        f" was claimed again or released meanwhile; this process stops running it without"
        f" another commit ({see})"
    )
