"""The PostgreSQL store's batch encoding and SQL: a batch becomes column arrays for one call.

A whole ``commit`` (or ``create_run``) is one ``SELECT blazen_commit(...)`` statement: the
server function in ``_sql/postgres/0001_init.sql`` locks the run row, checks the owner, stores
the blobs, inserts every row with ``unnest`` and marks the consumed events, all in the
statement's own transaction. Values are encoded (msgpack, sha256) here, before any I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blazen.errors import StoreError
from blazen.stores._codec import blob_hash, encode_value, pack
from blazen.stores.base import Commit, RunStatus
from blazen.values import StateValue

__all__ = ["COMMIT", "DELETE_RUN", "KNOWN_BLOBS", "RECORD_COLUMNS", "PgBatch"]

COMMIT = "SELECT blazen_commit(" + ", ".join(f"${i}" for i in range(1, 34)) + ")"
DELETE_RUN = "SELECT blazen_delete_run($1)"
KNOWN_BLOBS = "SELECT hash FROM blobs WHERE hash = ANY($1::bytea[])"
RECORD_COLUMNS = (
    "run_id, workflow_name, status, extract(epoch FROM created_at)::float8,"
    " extract(epoch FROM updated_at)::float8, last_seq, owner, error, metadata"
)


def _columns(count: int) -> list[list[Any]]:
    """``count`` empty column arrays."""
    return [[] for _ in range(count)]


def _append(columns: list[list[Any]], *row: Any) -> None:
    """Add one row to column arrays."""
    for column, cell in zip(columns, row, strict=True):
        column.append(cell)


class PgBatch:
    """A batch of commits as the column arrays ``blazen_commit`` takes, plus its blobs."""

    __slots__ = ("blobs", "commits", "consumes", "error", "events", "status", "writes")

    def __init__(self, commits: Sequence[Commit]) -> None:
        self.commits = _columns(8)
        self.writes = _columns(6)
        self.events = _columns(7)
        self.consumes = _columns(2)
        self.blobs: dict[bytes, list[Any]] = {}
        self.status: RunStatus | None = None
        self.error: str | None = None
        for n, commit in enumerate(commits):
            self._add(n, commit)

    def _value(self, value: StateValue | None) -> tuple[str | None, bytes | None, bytes | None]:
        """``(kind, inline payload, blob digest)``; a large payload is counted as a blob ref."""
        if value is None:
            return None, None, None
        kind, payload = encode_value(value)
        digest = blob_hash(payload)
        if digest is None:
            return kind, payload, None
        self.blobs.setdefault(digest, [0, payload])[0] += 1
        return kind, None, digest

    def _add(self, n: int, commit: Commit) -> None:
        """Encode commit ``n`` of the batch into the column arrays."""
        for idx, (key, value) in enumerate(commit.writes.items()):
            if type(key) is not str:
                raise StoreError(f"context keys must be str, not {type(key).__name__}")
            _append(self.writes, n, idx, key, *self._value(value))
        for idx, ev in enumerate(commit.emitted):
            row = (ev.event_id, ev.event_type, ev.source_step, ev.target_step, pack(ev.data))
            _append(self.events, n, idx, *row)
        for event_id in commit.consumed:
            _append(self.consumes, n, event_id)
        collected = None if commit.collected is None else pack(dict(commit.collected))
        head = (commit.step, len(commit.consumed), commit.status, commit.error, collected)
        _append(self.commits, *head, *self._value(commit.result))
        self.status = commit.status if commit.status is not None else self.status
        self.error = commit.error if commit.error is not None else self.error

    def arrays(self, known: set[bytes]) -> list[list[Any]]:
        """Every array argument; the payload of a blob in ``known`` is left out (NULL)."""
        hashes = sorted(self.blobs)
        refs = [self.blobs[h][0] for h in hashes]
        data = [None if h in known else self.blobs[h][1] for h in hashes]
        return [*self.commits, *self.writes, *self.events, *self.consumes, hashes, refs, data]
