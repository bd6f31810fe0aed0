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
from blazen.stores.base import RUN_STATUSES, Commit, PendingEvent, RunStatus, run_status
from blazen.values import StateValue

__all__ = ["Blob", "EncodedBatch", "EncodedCommit", "EncodedEvent", "encode_batch", "event_problem"]

_STATUS: dict[str, RunStatus] = {status: status for status in RUN_STATUSES}


EncodedEvent = tuple[str, str, str | None, str | None, bytes]
"""``(event_id, event_type, source_step, target_step, data)``: an emitted event with its data
msgpack-encoded. A plain tuple (read it by unpacking), for the reason ``StoredColumns`` is."""


@dataclass(slots=True)
class Blob:
    """A large payload of the batch (its own buffer, not a copy) and how many of the batch's
    writes and results reference it."""

    payload: bytes
    refs: int = 0


class EncodedCommit(NamedTuple):
    """One commit, encoded. ``source`` is the ``Commit`` it came from, kept only in a batch
    for a store that holds live values (``keep_sources``); ``None`` elsewhere, so that a
    queued encoded commit holds only strings, bytes and numbers (see ``EncodedBatch``)."""

    source: Commit | None
    step: str
    consumed: tuple[str, ...]
    emitted: tuple[EncodedEvent, ...]
    writes: tuple[tuple[str, StoredColumns], ...]
    collected: bytes | None
    result: StoredColumns | None
    status: RunStatus | None
    error: str | None
    attempt: int
    attempt_error: str | None


@dataclass(slots=True)
class EncodedBatch:
    """A batch ready to write: its commits, its blobs by digest, its final status and error.

    ``intra_problem`` is set when the batch misuses event ids on its own (an id consumed
    twice, consumed in or before the commit that emits it, or emitted twice): such a batch is
    refused without being sent. ``consumed_in`` maps each event that one commit of the batch
    emits and a later one consumes to that later commit's index (a backend can write such an
    event already consumed, with no update); ``finish`` computes both once the batch is whole.

    Without ``keep_sources`` the batch keeps no ``Commit``: each commit's row holds only
    tuples of strings, bytes and numbers, which the garbage collector stops tracking at its
    first pass, so a queued commit is one tracked object (its row). A run's committer encodes
    each commit as the step finishes and queues it so: commits waiting for the store then do
    not fill the collector's oldest generation, whose full passes (tens of ms in a loaded
    process) cost a durable hop more than its encoding.
    """

    commits: list[EncodedCommit] = field(default_factory=list)
    blobs: dict[bytes, Blob] = field(default_factory=dict)
    status: RunStatus | None = None
    error: str | None = None
    intra_problem: bool = False
    consumed_in: dict[str, int] = field(default_factory=dict)
    keep_sources: bool = True
    _pack: Packer = field(default_factory=Packer, repr=False)

    def __len__(self) -> int:
        return len(self.commits)

    def finish(self) -> EncodedBatch:
        """Check the batch's own use of event ids (``intra_problem``, ``consumed_in``)."""
        self.consumed_in.clear()
        self.intra_problem = self._misuses_own_events()
        return self

    def event_ids(self) -> list[str]:
        """Every event id the batch consumes or emits, once each, in batch order."""
        ids: dict[str, None] = {}
        for commit in self.commits:
            ids.update(dict.fromkeys(commit.consumed))
            ids.update(dict.fromkeys(ev[0] for ev in commit.emitted))
        return list(ids)

    def emitted_ids(self) -> set[str]:
        """The ids of every event the batch emits."""
        return {ev[0] for commit in self.commits for ev in commit.emitted}

    def _misuses_own_events(self) -> bool:
        """Whether an id is emitted twice, consumed twice, or consumed by or before the
        commit that emits it, within the batch alone (``event_problem`` names which); fills
        ``consumed_in`` on the way."""
        emitted_at: dict[str, int] = {}
        for n, commit in enumerate(self.commits):
            for ev in commit.emitted:
                event_id = ev[0]
                if event_id in emitted_at:
                    return True
                emitted_at[event_id] = n
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

    def add(self, commit: Commit) -> None:
        """Encode and append one commit (``StoreError`` for anything a store cannot hold:
        the batch is then unchanged)."""
        events = [
            (e.event_id, e.event_type, e.source_step, e.target_step, e.data) for e in commit.emitted
        ]
        self.add_parts(
            commit,
            commit.step,
            commit.consumed,
            events,
            commit.writes,
            commit.collected,
            commit.status,
            commit.result,
            commit.error,
            commit.attempt,
            commit.attempt_error,
        )

    def add_parts(
        self,
        source: Commit | None,
        step: str,
        consumed: Sequence[str],
        events: Sequence[tuple[str, str, str | None, str | None, Any]],
        writes: Mapping[str, StateValue | None],
        collected: Mapping[str, list[Any]] | None,
        status: RunStatus | None,
        result: StateValue | None,
        error: str | None,
        attempt: int,
        attempt_error: str | None,
    ) -> None:
        """``add`` of a commit given as its parts (``source``: the ``Commit``, if any): the
        engine's path for a step's commit, with no ``Commit`` nor ``PendingEvent`` built when
        the batch does not keep sources. ``events``: ``(event_id, event_type, source_step,
        target_step, data)``. It runs for every durable step, on the event loop's thread:
        the row is built with ``new_row`` (no NamedTuple frame)."""
        pack = self._pack
        columns = []
        payloads: list[tuple[bytes, bytes]] = []  # joins the blob map once all is encoded
        for key, value in writes.items():
            if type(key) is not str:
                raise StoreError(f"context keys must be str, not {type(key).__name__}")
            stored, payload = stored_columns(key, value, pack)
            if payload is not None:
                payloads.append((_digest(stored), payload))
            columns.append((key, stored))
        raw = pack.raw
        try:
            emitted = tuple([(i, t, src, to, raw(data)) for i, t, src, to, data in events])
        except (TypeError, ValueError, OverflowError):  # again, for the error naming it
            emitted = tuple([(i, t, src, to, pack(data)) for i, t, src, to, data in events])
        if status is not None:
            status = _STATUS.get(status) or run_status(status)
        stored_result = None
        if result is not None:
            stored_result, payload = stored_columns("<result>", result, pack)
            if payload is not None:
                payloads.append((_digest(stored_result), payload))
        row = (
            source if self.keep_sources else None,
            step,
            tuple(consumed),
            emitted,
            tuple(columns),
            None if collected is None else pack(dict(collected)),
            stored_result,
            status,
            error,
            attempt,
            attempt_error,
        )
        for digest, payload in payloads:
            blob = self.blobs.get(digest)
            if blob is None:
                blob = self.blobs[digest] = Blob(payload)
            blob.refs += 1
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error
        self.commits.append(new_row(EncodedCommit, row))


def _digest(columns: StoredColumns) -> bytes:
    """The blob digest of columns whose payload is a blob."""
    digest = columns[2]
    assert digest is not None
    return digest


def encode_batch(commits: Sequence[Commit], *, keep_sources: bool = True) -> EncodedBatch:
    """Check and encode ``commits`` before any I/O; ``StoreError`` names the first problem."""
    batch = EncodedBatch(keep_sources=keep_sources)
    for commit in commits:
        batch.add(commit)
    return batch.finish()


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
        for ev in commit.emitted:
            event_id = ev[0]
            if event_id in emitted or pending_before(event_id) is not None:
                return duplicate_event(run_id, first_seq + n, event_id)
            emitted.add(event_id)
    return None
