"""``MemoryStore``: the ``CheckpointStore`` semantics in Python dicts, for tests and one-off runs.

Every commit is kept (per key, a list of ``(seq, value)`` writes; per event, its emitted and
consumed seq) so ``load(run_id, seq)`` rebuilds any point of a run exactly as the SQLite store
does. The shared layer encodes every batch first (``_batch``), which both isolates mutable
inputs (event data, collect buffers and metadata are kept msgpack-encoded) and rejects what a
durable store could not hold; ``StateValue`` objects are immutable and kept as they are, large
ones interned by their digest (one object per payload, never copied).
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from blazen._meta import STEP_INPUT
from blazen.errors import StoreError
from blazen.status import FINISHED
from blazen.stores._base import EventRow, RunHead, StoreBase
from blazen.stores._batch import EncodedBatch, EncodedEvent, event_problem
from blazen.stores._codec import Clock, unpack
from blazen.stores._errors import Refusal, Refused
from blazen.stores._memory_lease import MemoryLeases
from blazen.stores._memory_signals import Signals
from blazen.stores._rows import event_from_row, load_seq
from blazen.stores.base import (
    CheckpointInfo,
    LoadedRun,
    RunRecord,
    RunStatus,
)
from blazen.values import StateValue

__all__ = ["MemoryStore"]

POSTED = STEP_INPUT
"""The source step of events posted by ``respond`` (their target step is ``None``)."""

_BlobKey = tuple[str, bytes]


@dataclass(slots=True)
class _Event:
    """One emitted event, its seq and (once handled) the seq that consumed it."""

    seq: int
    event: EncodedEvent  # (event_id, event_type, source_step, target_step, data)
    consumed: int | None = None

    @property
    def event_id(self) -> str:
        return self.event[0]

    def posted(self) -> bool:
        """Whether it is a pending answer posted by ``respond`` (no target step)."""
        return self.consumed is None and self.event[3] is None and self.event[2] == POSTED

    def row(self) -> EventRow:
        """``(seq, PendingEvent, consumed)`` with a fresh copy of the event's data."""
        event_id, event_type, source_step, target_step, data = self.event
        pending = event_from_row(event_id, event_type, data, source_step, target_step)
        return self.seq, pending, self.consumed


@dataclass(frozen=True, slots=True)
class _Entry:
    """One commit of a run's history."""

    info: CheckpointInfo
    collected: bytes | None
    result: StateValue | None


@dataclass(slots=True)
class _Run:
    """Everything the store holds about one run."""

    record: RunRecord
    metadata: bytes
    history: list[_Entry] = field(default_factory=list)
    keys: dict[str, tuple[list[int], list[StateValue | None]]] = field(default_factory=dict)
    events: dict[str, _Event] = field(default_factory=dict)
    blobs: list[_BlobKey] = field(default_factory=list)

    def public_record(self) -> RunRecord:
        """The record with a fresh copy of its metadata."""
        return dataclasses.replace(self.record, metadata=unpack(self.metadata))

    def pending_before(self, event_id: str) -> bool | None:
        """``True`` if the event is pending, ``False`` if consumed, ``None`` if unknown."""
        event = self.events.get(event_id)
        return None if event is None else event.consumed is None

    def states(self, event_ids: Sequence[str]) -> dict[str, bool]:
        """Of ``event_ids``, the run's events: ``True`` pending, ``False`` consumed."""
        found = (self.events.get(event_id) for event_id in event_ids)
        return {ev.event_id: ev.consumed is None for ev in found if ev is not None}

    def posted(self) -> list[_Event]:
        """Pending events without a target step (answers posted by ``respond``)."""
        return [ev for ev in self.events.values() if ev.posted()]

    def free(self, now: float, dead: Sequence[str]) -> bool:
        """Whether no live lease holds the run."""
        record = self.record
        return (
            record.owner is None
            or record.lease_until is None
            or record.lease_until <= now
            or record.owner in dead
        )

    def take(self, owner: str, lease: float, now: float) -> None:
        """Claim the run: a new epoch and lease; ``queued`` becomes ``running``."""
        record = self.record
        self.record = dataclasses.replace(
            record,
            owner=owner,
            epoch=record.epoch + 1,
            lease_until=now + lease,
            status="running" if record.status == "queued" else record.status,
        )

    def drop(self, status: RunStatus | None = None) -> None:
        """End the lease (and set ``status``)."""
        self.record = dataclasses.replace(
            self.record,
            owner=None,
            lease_until=None,
            status=self.record.status if status is None else status,
        )


class MemoryStore(MemoryLeases, StoreBase):
    """A ``CheckpointStore`` held in this process's memory; thread-safe, lost at exit."""

    _keeps_sources = True  # it holds the written StateValues themselves, not their encoding

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._blobs: dict[_BlobKey, tuple[StateValue, int]] = {}
        self._lock = threading.Lock()
        self._clock = Clock()
        self._signals = Signals()

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """A new, empty store for ``memory://`` (each call gives a separate store)."""
        if not url.startswith("memory:"):
            raise StoreError(f"not a memory store URL: {url!r}")
        return cls()

    def __repr__(self) -> str:
        return f"MemoryStore(runs={len(self._runs)})"

    @property
    def location(self) -> str:
        """``memory://``: this process's memory."""
        return "memory://"

    # -- blobs -----------------------------------------------------------------------------

    def _intern(
        self, run: _Run, value: StateValue | None, digest: bytes | None
    ) -> StateValue | None:
        """Share one object per large payload (by kind and digest), counting the run's reference."""
        if value is None or digest is None:
            return value
        key = (value.kind, digest)
        held, refs = self._blobs.get(key, (value, 0))
        self._blobs[key] = (held, refs + 1)
        run.blobs.append(key)
        return held

    def _release(self, key: _BlobKey) -> None:
        """Drop one reference to a large value; forget the value when none is left."""
        held, refs = self._blobs[key]
        if refs <= 1:
            del self._blobs[key]
        else:
            self._blobs[key] = (held, refs - 1)

    # -- writes ----------------------------------------------------------------------------

    async def _insert_run(self, head: RunHead, batch: EncodedBatch) -> None:
        """Add the run and apply its commit 0."""
        with self._lock:
            if head.run_id in self._runs:
                raise Refused(Refusal.RUN_EXISTS)
            now = self._clock.now()
            lease_until = None if head.owner is None else time.time() + head.lease
            record = RunRecord(
                head.run_id,
                head.workflow_name,
                head.status,
                now,
                now,
                -1,
                head.owner,
                epoch=head.epoch,
                lease_until=lease_until,
            )
            run = _Run(record, head.metadata)
            self._apply(run, batch, now)
            self._runs[head.run_id] = run
        if head.status == "queued":
            self._signals.notify()

    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        """Check the owner and the event rules, then apply the batch (all or nothing)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise Refused(Refusal.UNKNOWN_RUN)
            if run.record.owner != owner or epoch not in (None, run.record.epoch):
                raise Refused(Refusal.NOT_OWNER)
            first = run.record.last_seq + 1
            if event_problem(batch, run_id, first, run.pending_before) is not None:
                raise Refused(Refusal.EVENTS)
            self._apply(run, batch, self._clock.now())
            if batch.status in FINISHED:
                run.drop()
            last = run.record.last_seq
        if batch.status in FINISHED:
            self._signals.notify()
        return last

    def _apply(self, run: _Run, batch: EncodedBatch, now: float) -> None:
        """Append a validated batch to the run's history and update its record."""
        seq = run.record.last_seq
        for commit in batch.commits:
            seq += 1
            for event in commit.emitted:
                run.events[event[0]] = _Event(seq, event)
            for event_id in commit.consumed:
                run.events[event_id].consumed = seq
            source = commit.source
            assert source is not None  # this store's batches keep their sources (live values)
            values = source.writes
            for key, (_, _, digest) in commit.writes:
                seqs, held = run.keys.setdefault(key, ([], []))
                seqs.append(seq)
                held.append(self._intern(run, values[key], digest))
            result = source.result
            digest = None if commit.result is None else commit.result[2]
            info = CheckpointInfo(
                seq,
                commit.step,
                now,
                tuple(key for key, _ in commit.writes),
                tuple(ev[0] for ev in commit.emitted),
                len(commit.consumed),
                commit.attempt,
                commit.attempt_error if commit.attempt_error is not None else commit.error,
                run.record.epoch,
            )
            run.history.append(_Entry(info, commit.collected, self._intern(run, result, digest)))
        old = run.record
        run.record = RunRecord(
            old.run_id,
            old.workflow_name,
            old.status if batch.status is None else batch.status,
            old.created_at,
            now,
            seq,
            old.owner,
            old.error if batch.error is None else batch.error,
            old.metadata,
            old.epoch,
            old.lease_until,
            old.cancel_requested,
        )

    async def _event_states(self, run_id: str, event_ids: Sequence[str]) -> dict[str, bool]:
        """Of the given ids, the run's events: ``True`` pending, ``False`` consumed."""
        with self._lock:
            run = self._runs.get(run_id)
            return {} if run is None else run.states(event_ids)

    async def _claim(self, run_id: str, owner: str, lease: float) -> RunRecord | None:
        """Make ``owner`` the run's owner."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            run.take(owner, lease, time.time())
            return run.public_record()

    async def _delete(self, run_id: str) -> bool:
        """Forget the run and every large value only it referenced."""
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is None:
                return False
            for key in run.blobs:
                self._release(key)
            return True

    # -- reads -----------------------------------------------------------------------------

    async def _load(self, run_id: str, seq: int | None) -> LoadedRun | None:
        """The run's state after commit ``seq`` (default: the last one)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            at = load_seq(run.record, seq)
            upto = run.history[at::-1]
            collected = next((e.collected for e in upto if e.collected is not None), None)
            return LoadedRun(
                run.public_record(),
                at,
                _state_at(run, at),
                [ev.row()[1] for ev in run.events.values() if _pending_at(ev, at)],
                {} if collected is None else unpack(collected),
                next((e.result for e in upto if e.result is not None), None),
            )

    async def _get(self, run_id: str) -> RunRecord | None:
        """The run's record."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else run.public_record()

    async def _list(
        self, workflow_name: str | None, status: RunStatus | None, limit: int
    ) -> list[RunRecord]:
        """Runs matching the filters, most recently updated first."""
        with self._lock:
            runs = [
                run
                for run in self._runs.values()
                if workflow_name in (None, run.record.workflow_name)
                and status in (None, run.record.status)
            ]
            runs.sort(key=lambda run: run.record.updated_at, reverse=True)
            return [run.public_record() for run in runs[:limit]]

    async def _find(self, id_prefix: str, limit: int) -> list[RunRecord]:
        """Runs whose id starts with ``id_prefix``, in id order."""
        with self._lock:
            ids = sorted(run_id for run_id in self._runs if run_id.startswith(id_prefix))
            return [self._runs[run_id].public_record() for run_id in ids[:limit]]

    async def _checkpoints(self, run_id: str) -> list[CheckpointInfo] | None:
        """The run's commit history, oldest first."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else [entry.info for entry in run.history]

    async def _events(self, run_id: str) -> list[EventRow] | None:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else [ev.row() for ev in run.events.values()]

    async def _close(self) -> None:
        """Drop everything; later calls raise ``StoreError``."""
        with self._lock:
            self._runs.clear()
            self._blobs.clear()


def _state_at(run: _Run, seq: int) -> dict[str, StateValue]:
    """Each key's last write at or before ``seq``, deleted keys left out."""
    state: dict[str, StateValue] = {}
    for key, (seqs, values) in run.keys.items():
        index = bisect.bisect_right(seqs, seq) - 1
        if index >= 0 and (value := values[index]) is not None:
            state[key] = value
    return state


def _pending_at(event: _Event, seq: int) -> bool:
    """Whether the event was emitted and not yet consumed as of ``seq``."""
    return event.seq <= seq and (event.consumed is None or event.consumed > seq)
