"""Run ownership across processes: leases with fencing epochs, the queue, control requests.

A run is owned by at most one claim at a time: an ``owner`` id (``host:pid:random``), the end
of its lease (``lease_until``, on the store's clock) and a fencing ``epoch`` that every claim
increments; commits carry the epoch and a stale one is refused. Each backend implements the
atomic operations (the ``_``-prefixed hooks below: one transaction or one script each);
this class adds what is the same for every backend: argument checks, owners known dead on
this host (``blazen._owners``), the wording of every refusal, and ``respond``'s validation.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from blazen._meta import STEP_CANCELLED, STEP_INPUT, WAITING_STATE_KEY
from blazen._owners import HOST, is_dead, new_owner
from blazen.errors import StoreConflictError, StoreError
from blazen.events import InputResponseEvent
from blazen.snapshot import encode_event
from blazen.status import FINISHED, REQUEUEABLE, RunStatus
from blazen.stores._batch import EncodedBatch, encode_batch
from blazen.stores._errors import bad_lease, held, not_claimable, not_waiting, unknown_run
from blazen.stores.base import (
    DEFAULT_LEASE,
    Commit,
    Lease,
    LoadedRun,
    NextRun,
    PendingEvent,
    Renewal,
    RunRecord,
    Subscription,
)
from blazen.values import StateValue

__all__ = [
    "ACQUIRABLE",
    "Coordinated",
    "Grab",
    "Grabbed",
    "PollingSubscription",
    "check_lease",
]

ACQUIRABLE: frozenset[RunStatus] = frozenset({"queued", "running", "waiting", "paused"})
"""Statuses of runs a claim may take (``failed`` too when a failed run is retried)."""
CONTROL_LEASE = 10.0
"""The lease ``cancel`` takes on an unowned run for the one commit that cancels it."""
DEAD_CHECK = 0.5
"""Seconds between two look-ups of this host's dead lease holders by ``acquire_next``."""


class Grab(enum.Enum):
    """The outcome of a backend's atomic claim."""

    OK = "ok"
    UNKNOWN = "unknown run"
    STATUS = "status not allowed"
    HELD = "held by a live lease"


@dataclass(frozen=True, slots=True)
class Claim:
    """One atomic claim: ``owner`` takes ``run_id`` for ``lease`` seconds if the run's status
    is in ``statuses`` and its lease is free, expired or held by one of ``dead``."""

    run_id: str
    owner: str
    lease: float
    dead: tuple[str, ...]
    statuses: frozenset[RunStatus]


@dataclass(frozen=True, slots=True)
class Grabbed:
    """A claim's outcome and the run's record (after the claim when it succeeded)."""

    outcome: Grab
    record: RunRecord | None = None


def check_lease(lease: float) -> float:
    """``lease`` if it is a positive, finite number of seconds; ``StoreError`` otherwise."""
    if isinstance(lease, bool) or not isinstance(lease, (int, float)):
        raise bad_lease(lease)
    if not 0 < lease < math.inf:
        raise bad_lease(lease)
    return float(lease)


class PollingSubscription:
    """Wake-ups for a store without notifications: every wait just sleeps its timeout."""

    polling = True
    """Waiters back off instead of relying on notifications."""

    async def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds; there is never a notification."""
        await asyncio.sleep(max(timeout, 0.0))
        return False

    async def close(self) -> None:
        """Nothing to release."""


class Coordinated(abc.ABC):
    """The lease, queue and control operations of ``CheckpointStore`` over backend hooks."""

    _dead_cache: tuple[float, list[str], list[str]] | None = None

    # -- provided by StoreBase -------------------------------------------------------------

    @abc.abstractmethod
    def _check_open(self) -> None:
        """``StoreError`` once the store is closed."""

    @abc.abstractmethod
    async def _get(self, run_id: str) -> RunRecord | None:
        """The run's record, or ``None`` when unknown."""

    @abc.abstractmethod
    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq``."""

    @abc.abstractmethod
    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        """Apply commits as ``owner`` (at ``epoch``)."""

    # -- the backend's atomic operations ---------------------------------------------------

    @abc.abstractmethod
    async def _acquire(self, claim: Claim) -> Grabbed:
        """Make ``claim`` if it may be made: owner, epoch + 1, lease end = now + lease,
        ``queued`` becomes ``running``. The record is returned with every outcome but
        ``UNKNOWN``."""

    @abc.abstractmethod
    async def _acquire_next(
        self, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
    ) -> tuple[RunRecord | None, float | None, list[str]]:
        """Claim a run of ``workflows`` that needs a worker: first (oldest first) one that is
        ``running``/``waiting`` with an expired (or ``dead``) lease, or ``running`` without
        an owner (work already started is finished first), else the oldest ``queued`` one
        with a free lease. Without one: ``(None, seconds until the earliest live lease of
        such runs ends, the owners of those leases)``."""

    @abc.abstractmethod
    async def _holders(self, workflows: Sequence[str], host: str) -> list[str]:
        """The owners (ids starting with ``host``) of the live leases of unfinished runs of
        ``workflows``."""

    @abc.abstractmethod
    async def _renew(self, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
        """Extend each lease still held (run id -> (owner, epoch)); report the others, the
        cancel requests and the runs with an unconsumed posted answer."""

    @abc.abstractmethod
    async def _end_lease(self, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
        """End the lease if ``owner``/``epoch`` still hold it (``False`` otherwise). The run
        becomes ``queued`` with ``requeue`` (unless finished), or when it is ``waiting`` and
        holds an unconsumed posted event."""

    @abc.abstractmethod
    async def _post(self, run_id: str, batch: EncodedBatch) -> Grab:
        """Append a one-commit batch emitting posted events (``target_step`` None) to an
        unfinished run whoever owns it; a ``waiting`` run without a live lease becomes
        ``queued``. ``STATUS`` when the run is finished."""

    @abc.abstractmethod
    async def _flag_cancel(self, run_id: str) -> Grabbed:
        """Set ``cancel_requested`` on an unfinished run (``STATUS`` when finished)."""

    @abc.abstractmethod
    async def _requeue(
        self, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
    ) -> Grabbed:
        """Make a run with a status in ``statuses`` and no live lease ``queued``."""

    @abc.abstractmethod
    async def _inbox(self, run_id: str) -> list[PendingEvent] | None:
        """The run's unconsumed posted events (``None``: unknown run)."""

    @abc.abstractmethod
    def subscribe(self) -> Subscription:
        """Wake-ups on new work, answers, cancel requests and finished runs."""

    # -- claims ----------------------------------------------------------------------------

    async def _grab(
        self, run_id: str, owner: str, lease: float, statuses: frozenset[RunStatus]
    ) -> Grabbed:
        """Claim, retrying once with the holder as dead when it is known dead here."""
        self._check_open()
        lease = check_lease(lease)
        dead: list[str] = []
        while True:
            got = await self._acquire(Claim(run_id, owner, lease, tuple(dead), statuses))
            holder = got.record.owner if got.record is not None else None
            if got.outcome is not Grab.HELD or not holder or holder in dead:
                return got
            if not is_dead(holder):
                return got
            dead.append(holder)

    async def acquire(
        self, run_id: str, owner: str, *, lease: float = DEFAULT_LEASE, failed: bool = False
    ) -> Lease:
        """Claim an unfinished run whose lease is free or expired, atomically: a new epoch.

        ``failed=True`` also claims a failed run (to retry it). Raises ``StoreConflictError``
        when the run is finished or another live owner holds it. A lease held by a process of
        this host that no longer exists counts as expired.
        """
        statuses: frozenset[RunStatus] = ACQUIRABLE | {"failed"} if failed else ACQUIRABLE
        got = await self._grab(run_id, owner, lease, statuses)
        record = got.record
        if got.outcome is Grab.UNKNOWN or record is None:
            raise unknown_run(run_id)
        if got.outcome is Grab.STATUS:
            raise not_claimable(run_id, record.status)
        if got.outcome is Grab.HELD:
            raise held(run_id, record.owner, record.lease_until)
        return Lease(run_id, owner, record.epoch, record)

    async def acquire_next(
        self, owner: str, workflows: Sequence[str], *, lease: float = DEFAULT_LEASE
    ) -> NextRun:
        """Claim one run of ``workflows`` that needs a worker: queued, or unfinished with an
        expired lease (oldest first), atomically; several workers never get the same run."""
        self._check_open()
        lease = check_lease(lease)
        names = list(dict.fromkeys(workflows))
        if not names:
            return NextRun(None)
        dead = await self._dead_holders(names)
        while True:
            record, retry_in, holders = await self._acquire_next(owner, names, lease, dead)
            if record is not None:
                return NextRun(Lease(record.run_id, owner, record.epoch, record))
            newly = [h for h in dict.fromkeys(holders) if h not in dead and is_dead(h)]
            if not newly:
                return NextRun(None, None if retry_in is None else max(retry_in, 0.0))
            dead = await self._dead_holders(names, refresh=True)

    async def _dead_holders(self, workflows: list[str], refresh: bool = False) -> list[str]:
        """Owners of this host's leases on these workflows' runs that are dead (see
        ``blazen._owners``), looked up at most every ``DEAD_CHECK`` seconds."""
        now = time.monotonic()
        cached = self._dead_cache
        if not refresh and cached is not None and cached[0] > now and cached[1] == workflows:
            return cached[2]
        holders = await self._holders(workflows, HOST + ":")
        dead = [h for h in dict.fromkeys(holders) if is_dead(h)]
        self._dead_cache = (now + DEAD_CHECK, workflows, dead)
        return dead

    async def renew(
        self, held: Mapping[str, tuple[str, int]], *, lease: float = DEFAULT_LEASE
    ) -> Renewal:
        """Extend the given leases (run id -> (owner, epoch)) by ``lease`` seconds from now.

        The answer names the runs whose lease was lost (claimed again, or released), the
        runs asked to cancel, and the runs with a posted answer not consumed yet.
        """
        self._check_open()
        lease = check_lease(lease)
        if not held:
            return Renewal()
        return await self._renew(dict(held), lease)

    async def release(self, run_id: str, owner: str, epoch: int, *, requeue: bool = False) -> bool:
        """End ``owner``'s lease (``requeue``: the run becomes ``queued`` for any worker).

        ``False`` when the lease was lost already. Answers posted meanwhile make a waiting
        run ``queued`` too, so no answer is left unseen.
        """
        self._check_open()
        return await self._end_lease(run_id, owner, epoch, requeue)

    async def inbox(self, run_id: str) -> list[PendingEvent]:
        """Events posted to the run by ``respond`` and not consumed yet, oldest first."""
        self._check_open()
        found = await self._inbox(run_id)
        if found is None:
            raise unknown_run(run_id)
        return found

    # -- control from any process ----------------------------------------------------------

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        """Record the answer to an input request; the run becomes claimable by any worker
        (or, when a process is running it, that process delivers it)."""
        self._check_open()
        loaded = await self.load(run_id)
        status = loaded.record.status
        if status in FINISHED:
            raise StoreConflictError(
                f"run {run_id!r} is already {status}; it cannot take input any more"
            )
        waiting = _awaited(loaded.context_state.get(WAITING_STATE_KEY))
        answered = {_answered(ev) for ev in await self.inbox(run_id)}
        if request_id not in waiting or request_id in answered:
            raise not_waiting(run_id, request_id, [r for r in waiting if r not in answered])
        data = encode_event(InputResponseEvent(request_id=request_id, response=response))
        event = PendingEvent(
            f"posted-{uuid.uuid4().hex}", InputResponseEvent.event_type, data, STEP_INPUT, None
        )
        outcome = await self._post(run_id, encode_batch([Commit(STEP_INPUT, emitted=(event,))]))
        if outcome is Grab.UNKNOWN:
            raise unknown_run(run_id)
        if outcome is Grab.STATUS:
            raise StoreConflictError(
                f"run {run_id!r} finished while it was being answered; the answer was not stored"
            )

    async def cancel(self, run_id: str) -> None:
        """Cancel the run: at once if no process owns it, else its owner stops it."""
        owner = new_owner()
        got = await self._grab(run_id, owner, CONTROL_LEASE, ACQUIRABLE)
        record = got.record
        if got.outcome is Grab.UNKNOWN or record is None:
            raise unknown_run(run_id)
        if got.outcome is Grab.STATUS:
            raise StoreConflictError(
                f"run {run_id!r} is already {record.status}; it cannot be cancelled"
            )
        if got.outcome is Grab.OK:
            commit = Commit(STEP_CANCELLED, status="cancelled", error=f"cancelled by {owner}")
            await self.commit(run_id, [commit], owner=owner, epoch=record.epoch)
            return
        flagged = await self._flag_cancel(run_id)
        if flagged.outcome is Grab.UNKNOWN or flagged.record is None:
            raise unknown_run(run_id)
        if flagged.outcome is Grab.STATUS:
            status = flagged.record.status
            raise StoreConflictError(f"run {run_id!r} is already {status}; it cannot be cancelled")

    async def requeue(self, run_id: str) -> None:
        """Queue a paused, failed (or ownerless) run so that a worker continues it."""
        self._check_open()
        dead: list[str] = []
        while True:
            got = await self._requeue(run_id, dead, REQUEUEABLE)
            record = got.record
            if got.outcome is Grab.UNKNOWN or record is None:
                raise unknown_run(run_id)
            if got.outcome is Grab.OK:
                return
            if got.outcome is Grab.STATUS:
                raise _not_requeueable(run_id, record.status)
            holder = record.owner
            if not holder or holder in dead or not is_dead(holder):
                raise held(run_id, holder, record.lease_until)
            dead.append(holder)


def _awaited(value: StateValue | None) -> list[str]:
    """The request ids of a stored run's awaited input requests."""
    if isinstance(value, StateValue.Json) and isinstance(value.value, dict):
        return [str(rid) for rid in value.value]
    return []


def _answered(event: PendingEvent) -> str | None:
    """The request id a posted answer is for."""
    data = event.data
    if event.event_type == InputResponseEvent.event_type and isinstance(data, dict):
        rid = data.get("request_id")
        return None if rid is None else str(rid)
    return None


def _not_requeueable(run_id: str, status: str) -> StoreError:
    """Why a run of ``status`` cannot be queued."""
    if status == "waiting":
        return StoreConflictError(
            f"run {run_id!r} is waiting for input: answer it (respond) and a worker continues it"
        )
    return StoreConflictError(
        f"run {run_id!r} is already {status}; it cannot be queued again (fork it instead)"
    )
