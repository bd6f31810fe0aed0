"""One validated, encoded batch of commits: what every backend writes, computed once.

``encode_batch`` checks and encodes a batch before any I/O: context keys are ``str``, values
are ``StateValue`` (encoded to ``StoredColumns``, large payloads gathered by digest into one
blob map with their reference counts), event data and collect buffers are msgpack-encoded,
statuses belong to ``RunStatus``, and the batch's final status and error (the last commit's
that sets one) are computed here. A backend then only writes it. The event-id rules (a
consumed event is pending before its commit; an emitted id is new to the run) are checked
atomically by each backend's write; ``event_problem`` names the first violation the same way
for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from blazen.errors import StoreError
from blazen.stores._codec import CREATE_STEP, Packer, StoredColumns, new_row, stored_columns
from blazen.stores._errors import duplicate_event, not_pending
from blazen.stores.base import Commit, PendingEvent, RunStatus, run_status
from blazen.values import StateValue

__all__ = ["Blob", "EncodedBatch", "EncodedCommit", "EncodedEvent", "encode_batch", "event_problem"]


class EncodedEvent(NamedTuple):
    """An emitted event with its data msgpack-encoded."""

    event_id: str
    event_type: str
    source_step: str | None
    target_step: str | None
    data: bytes


@dataclass(slots=True)
class Blob:
    """A large payload of the batch (its own buffer, not a copy) and how many of the batch's
    writes and results reference it."""

    payload: bytes
    refs: int = 0


class EncodedCommit(NamedTuple):
    """One commit, encoded; ``source`` is the ``Commit`` it came from (its live values)."""

    source: Commit
    step: str
    consumed: tuple[str, ...]
    emitted: tuple[EncodedEvent, ...]
    writes: tuple[tuple[str, StoredColumns], ...]
    collected: bytes | None
    result: StoredColumns | None
    status: RunStatus | None
    error: str | None


@dataclass(slots=True)
class EncodedBatch:
    """A batch ready to write: its commits, its blobs by digest, its final status and error.

    ``intra_problem`` is set when the batch misuses event ids on its own (an id consumed
    twice, consumed in or before the commit that emits it, or emitted twice): such a batch is
    refused without being sent. ``consumed_in`` maps each event that one commit of the batch
    emits and a later one consumes to that later commit's index (a backend can write such an
    event already consumed, with no update).
    """

    commits: list[EncodedCommit] = field(default_factory=list)
    blobs: dict[bytes, Blob] = field(default_factory=dict)
    status: RunStatus | None = None
    error: str | None = None
    intra_problem: bool = False
    consumed_in: dict[str, int] = field(default_factory=dict)
    _pack: Packer = field(default_factory=Packer, repr=False)

    def event_ids(self) -> list[str]:
        """Every event id the batch consumes or emits, once each, in batch order."""
        ids: dict[str, None] = {}
        for commit in self.commits:
            ids.update(dict.fromkeys(commit.consumed))
            ids.update(dict.fromkeys(ev.event_id for ev in commit.emitted))
        return list(ids)

    def emitted_ids(self) -> set[str]:
        """The ids of every event the batch emits."""
        return {ev.event_id for commit in self.commits for ev in commit.emitted}

    def _misuses_own_events(self) -> bool:
        """Whether an id is emitted twice, consumed twice, or consumed by or before the
        commit that emits it, within the batch alone (``event_problem`` names which); fills
        ``consumed_in`` on the way."""
        emitted_at: dict[str, int] = {}
        for n, commit in enumerate(self.commits):
            for ev in commit.emitted:
                if ev.event_id in emitted_at:
                    return True
                emitted_at[ev.event_id] = n
        consumed: set[str] = set()
        consumed_in = self.consumed_in
        for n, commit in enumerate(self.commits):
            for event_id in commit.consumed:
                at = emitted_at.get(event_id, -1)
                if event_id in consumed or at >= n:
                    return True
                consumed.add(event_id)
                if at >= 0:
                    consumed_in[event_id] = n
        return False

    def _columns(self, key: str, value: StateValue | None) -> StoredColumns:
        """The stored columns of one value; a large payload joins the blob map."""
        columns, payload = stored_columns(key, value, self._pack)
        if payload is not None:
            assert columns.digest is not None
            blob = self.blobs.get(columns.digest)
            if blob is None:
                blob = self.blobs[columns.digest] = Blob(payload)
            blob.refs += 1
        return columns

    def add(self, commit: Commit) -> None:
        """Encode and append one commit (``StoreError`` for anything a store cannot hold).

        It runs for every step of a durable run, on the event loop's thread: rows are built
        with ``new_row`` (no NamedTuple ``__new__`` frame).
        """
        pack = self._pack
        writes = []
        for key, value in commit.writes.items():
            if type(key) is not str:
                raise StoreError(f"context keys must be str, not {type(key).__name__}")
            writes.append((key, self._columns(key, value)))
        emitted = tuple(
            [
                new_row(
                    EncodedEvent,
                    (e.event_id, e.event_type, e.source_step, e.target_step, pack(e.data)),
                )
                for e in commit.emitted
            ]
        )
        status, error, collected, result = commit.status, commit.error, commit.collected, None
        if status is not None:
            self.status = status = run_status(status)
        if error is not None:
            self.error = error
        if commit.result is not None:
            result = self._columns("<result>", commit.result)
        self.commits.append(
            new_row(
                EncodedCommit,
                (
                    commit,
                    commit.step,
                    tuple(commit.consumed),
                    emitted,
                    tuple(writes),
                    None if collected is None else pack(dict(collected)),
                    result,
                    status,
                    error,
                ),
            )
        )


def encode_batch(commits: Sequence[Commit]) -> EncodedBatch:
    """Check and encode ``commits`` before any I/O; ``StoreError`` names the first problem."""
    batch = EncodedBatch()
    for commit in commits:
        batch.add(commit)
    batch.intra_problem = batch._misuses_own_events()
    return batch


def encode_start(
    pending: Sequence[PendingEvent],
    context_state: Mapping[str, StateValue],
    collected: Mapping[str, list[Any]],
) -> EncodedBatch:
    """Commit 0 of a run: ``create_run``'s whole starting state, as a one-commit batch."""
    start = Commit(CREATE_STEP, emitted=tuple(pending), writes=context_state, collected=collected)
    return encode_batch([start])


def event_problem(
    batch: EncodedBatch,
    run_id: str,
    first_seq: int,
    pending_before: Callable[[str], bool | None],
) -> StoreError | None:
    """The first misuse of event ids in the batch (commit order, consumes before emits).

    ``pending_before(id)`` tells how the run's event was before the batch: ``True`` pending,
    ``False`` consumed, ``None`` unknown to the run.
    """
    consumed: set[str] = set()
    emitted: set[str] = set()
    for n, commit in enumerate(batch.commits):
        for event_id in commit.consumed:
            ok = event_id in emitted or pending_before(event_id) is True
            if event_id in consumed or not ok:
                return not_pending(run_id, first_seq + n, event_id)
            consumed.add(event_id)
        for event in commit.emitted:
            if event.event_id in emitted or pending_before(event.event_id) is not None:
                return duplicate_event(run_id, first_seq + n, event.event_id)
            emitted.add(event.event_id)
    return None
