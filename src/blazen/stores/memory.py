"""``MemoryStore``: the ``CheckpointStore`` semantics in Python dicts, for tests and one-off runs.

Every commit is kept (per key, a list of ``(seq, value)`` writes; per event, its emitted and
consumed seq) so ``load(run_id, seq)`` rebuilds any point of a run exactly as the SQLite store
does. Mutable inputs (event data, collect buffers, metadata) are msgpack-encoded on the way in,
which both isolates them from the caller and rejects what a durable store could not hold;
``StateValue`` objects are immutable and kept as they are, large ones interned by content.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blazen.errors import StoreConflictError, StoreError
from blazen.stores._codec import Clock, blob_hash, pack, start_commit, unknown_run, unpack
from blazen.stores.base import (
    CheckpointInfo,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
)
from blazen.values import StateValue

__all__ = ["MemoryStore"]

_BlobKey = tuple[str, bytes]


@dataclass(slots=True)
class _Event:
    """One emitted event: its seq, fields and msgpack-encoded data."""

    seq: int
    event_id: str
    event_type: str
    data: bytes
    source_step: str | None
    target_step: str | None
    consumed: int | None = None

    def public(self) -> PendingEvent:
        """A fresh ``PendingEvent`` (new data object, so the caller may mutate it)."""
        data = unpack(self.data)
        return PendingEvent(
            self.event_id, self.event_type, data, self.source_step, self.target_step
        )


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


@dataclass(slots=True)
class _Batch:
    """A validated batch of commits, ready to apply without any possible failure."""

    entries: list[tuple[int, Commit, bytes | None]] = field(default_factory=list)
    emitted: dict[str, _Event] = field(default_factory=dict)
    consumed: dict[str, int] = field(default_factory=dict)


def _check_value(key: Any, value: Any) -> None:
    """Reject a write a durable store could not hold, before anything is applied."""
    if not isinstance(key, str):
        raise StoreError(f"context keys must be str, not {type(key).__name__}")
    if value is not None and not isinstance(value, StateValue):
        raise StoreError(f"context value for {key!r} is {type(value).__name__}, not StateValue")


class MemoryStore:
    """A ``CheckpointStore`` held in this process's memory; thread-safe, lost at exit."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._blobs: dict[_BlobKey, tuple[StateValue, int]] = {}
        self._lock = threading.Lock()
        self._clock = Clock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """A new, empty store for ``memory://`` (each call gives a separate store)."""
        if not url.startswith("memory:"):
            raise StoreError(f"not a memory store URL: {url!r}")
        return cls()

    def _check_open(self) -> None:
        """``StoreError`` once the store is closed."""
        if self._closed:
            raise StoreError("the memory store is closed")

    def _run(self, run_id: str) -> _Run:
        """The run, or ``StoreError`` naming the id."""
        self._check_open()
        run = self._runs.get(run_id)
        if run is None:
            raise unknown_run(run_id)
        return run

    # -- blobs -----------------------------------------------------------------------------

    def _intern(self, run: _Run, value: StateValue | None) -> StateValue | None:
        """Share one object per large Bytes/Native payload, counting the run's reference."""
        if not isinstance(value, (StateValue.Bytes, StateValue.Native)):
            return value
        digest = blob_hash(value.data)
        if digest is None:
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

    async def create_run(
        self,
        run_id: str,
        workflow_name: str,
        *,
        owner: str,
        context_state: Mapping[str, StateValue],
        pending: Sequence[PendingEvent],
        collected: Mapping[str, list[Any]],
        metadata: Mapping[str, Any],
        status: RunStatus = "running",
    ) -> None:
        """Write commit 0 of a new run; ``StoreConflictError`` if the id exists."""
        start = start_commit(pending, context_state, collected)
        with self._lock:
            self._check_open()
            if run_id in self._runs:
                raise StoreConflictError(f"run {run_id!r} already exists")
            now = self._clock.now()
            record = RunRecord(run_id, workflow_name, status, now, now, -1, owner)
            run = _Run(record, pack(dict(metadata)))
            batch = self._prepare(run, [start])
            self._apply(run, batch, now)
            self._runs[run_id] = run

    async def commit(self, run_id: str, commits: Sequence[Commit], *, owner: str) -> int:
        """Apply ``commits`` atomically (all or nothing); return the last seq."""
        with self._lock:
            run = self._run(run_id)
            if run.record.owner != owner:
                raise StoreConflictError(
                    f"run {run_id!r} is owned by {run.record.owner!r}, not {owner!r}"
                )
            if commits:
                self._apply(run, self._prepare(run, commits), self._clock.now())
            return run.record.last_seq

    def _prepare(self, run: _Run, commits: Sequence[Commit]) -> _Batch:
        """Validate and encode a batch against the run; raises before anything changes."""
        batch = _Batch()
        for offset, commit in enumerate(commits):
            seq = run.record.last_seq + 1 + offset
            self._prepare_events(run, batch, seq, commit)
            for key, value in commit.writes.items():
                _check_value(key, value)
            if commit.result is not None:
                _check_value("result", commit.result)
            collected = None if commit.collected is None else pack(dict(commit.collected))
            batch.entries.append((seq, commit, collected))
        return batch

    def _prepare_events(self, run: _Run, batch: _Batch, seq: int, commit: Commit) -> None:
        """Check the consumed ids are pending and the emitted ids are new."""
        for event_id in commit.consumed:
            event = run.events.get(event_id) or batch.emitted.get(event_id)
            if event is None or event.consumed is not None or event_id in batch.consumed:
                raise StoreError(
                    f"run {run.record.run_id!r}: commit {seq} consumes event {event_id!r},"
                    " which is not pending"
                )
            batch.consumed[event_id] = seq
        for ev in commit.emitted:
            if ev.event_id in run.events or ev.event_id in batch.emitted:
                raise StoreError(f"run {run.record.run_id!r}: duplicate event id {ev.event_id!r}")
            data = pack(ev.data)
            batch.emitted[ev.event_id] = _Event(
                seq, ev.event_id, ev.event_type, data, ev.source_step, ev.target_step
            )

    def _apply(self, run: _Run, batch: _Batch, now: float) -> None:
        """Append a validated batch to the run's history and update its record."""
        run.events.update(batch.emitted)
        for event_id, seq in batch.consumed.items():
            run.events[event_id].consumed = seq
        changes: dict[str, Any] = {"updated_at": now}
        for seq, commit, collected in batch.entries:
            for key, value in commit.writes.items():
                seqs, values = run.keys.setdefault(key, ([], []))
                seqs.append(seq)
                values.append(self._intern(run, value))
            info = CheckpointInfo(
                seq,
                commit.step,
                now,
                tuple(commit.writes),
                tuple(ev.event_id for ev in commit.emitted),
                len(commit.consumed),
            )
            run.history.append(_Entry(info, collected, self._intern(run, commit.result)))
            changes["last_seq"] = seq
            if commit.status is not None:
                changes["status"] = commit.status
            if commit.error is not None:
                changes["error"] = commit.error
        run.record = dataclasses.replace(run.record, **changes)

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner; a later commit by the old owner fails."""
        with self._lock:
            run = self._run(run_id)
            run.record = dataclasses.replace(run.record, owner=owner)
            return run.public_record()

    async def delete_run(self, run_id: str) -> None:
        """Forget the run and every large value only it referenced."""
        with self._lock:
            run = self._run(run_id)
            del self._runs[run_id]
            for key in run.blobs:
                self._release(key)

    # -- reads -----------------------------------------------------------------------------

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        with self._lock:
            run = self._run(run_id)
            last = run.record.last_seq
            at = last if seq is None else seq
            if not 0 <= at <= last:
                raise StoreError(f"run {run_id!r} has no commit {seq} (last is {last})")
            return LoadedRun(
                run.public_record(),
                at,
                _state_at(run, at),
                [ev.public() for ev in run.events.values() if _pending_at(ev, at)],
                _last_at(run, at, "collected") or {},
                _last_at(run, at, "result"),
            )

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        with self._lock:
            return self._run(run_id).public_record()

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs matching the filters, most recently updated first."""
        with self._lock:
            self._check_open()
            runs = [
                run
                for run in self._runs.values()
                if workflow_name in (None, run.record.workflow_name)
                and status in (None, run.record.status)
            ]
            runs.sort(key=lambda run: run.record.updated_at, reverse=True)
            return [run.public_record() for run in runs[: max(limit, 0)]]

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        with self._lock:
            return [entry.info for entry in self._run(run_id).history]

    async def events(self, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        with self._lock:
            events = self._run(run_id).events.values()
            return [(ev.seq, ev.public(), ev.consumed) for ev in events]

    async def close(self) -> None:
        """Drop everything; later calls raise ``StoreError``."""
        with self._lock:
            self._closed = True
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


def _last_at(run: _Run, seq: int, attribute: str) -> Any:
    """The last non-``None`` ``collected``/``result`` of the commits up to ``seq``."""
    for index in range(seq, -1, -1):
        value = getattr(run.history[index], attribute)
        if value is not None:
            return unpack(value) if attribute == "collected" else value
    return None
