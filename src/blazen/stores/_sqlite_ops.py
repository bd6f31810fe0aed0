"""The SQLite store's writes, as blocking functions of a connection (run on the store's thread).

A batch is encoded (msgpack, sha256) before the write lock is taken, then written with a few
``executemany`` calls in one ``BEGIN IMMEDIATE`` transaction: any failure rolls it all back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blazen.errors import StoreConflictError, StoreError
from blazen.stores._codec import Clock, blob_hash, encode_value, pack, unknown_run, unpack
from blazen.stores._sqlite_file import write_txn
from blazen.stores.base import Commit, RunRecord, RunStatus
from blazen.values import StateValue

__all__ = [
    "EncodedBatch",
    "claim",
    "commit",
    "create_run",
    "delete_run",
    "encode_batch",
    "find_run",
    "record_from_row",
]

_ValueCols = tuple[str | None, bytes | None, bytes | None]
_NO_VALUE: _ValueCols = (None, None, None)

_INSERT_RUN = (
    "INSERT INTO runs (run_id, workflow_name, status, owner, metadata, created_at, updated_at,"
    " last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, 0)"
)
_INSERT_COMMIT = (
    "INSERT INTO commits (rid, seq, step, created_at, consumed, status, error, collected,"
    " result_kind, result_data, result_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WRITE = (
    "INSERT INTO writes (rid, key, seq, idx, kind, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (rid, event_id, seq, idx, event_type, source_step, target_step, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONSUME = (
    "UPDATE events SET consumed_seq = ?1"
    " WHERE rid = ?2 AND event_id = ?3 AND consumed_seq IS NULL AND seq < ?1"
)
_UPDATE_RUN = (
    "UPDATE runs SET last_seq = ?, updated_at = ?, status = coalesce(?, status),"
    " error = coalesce(?, error) WHERE rid = ?"
)
_RUN_BLOBS = (
    "SELECT hash FROM writes WHERE rid = ?1 AND hash IS NOT NULL"
    " UNION SELECT result_hash FROM commits WHERE rid = ?1 AND result_hash IS NOT NULL"
)
_DROP_BLOB = (
    "DELETE FROM blobs WHERE hash = ?1 AND NOT EXISTS (SELECT 1 FROM writes WHERE hash = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM commits WHERE result_hash = ?1)"
)
RECORD_COLUMNS = (
    "run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, metadata"
)


@dataclass(slots=True)
class _EncodedCommit:
    """One commit with every value already encoded; only its seq is still to come."""

    step: str
    consumed: tuple[str, ...]
    status: RunStatus | None
    error: str | None
    collected: bytes | None
    result: _ValueCols
    writes: list[tuple[str, str | None, bytes | None, bytes | None]]
    events: list[tuple[str, int, str, str | None, str | None, bytes]]

    def row(self, rid: int, seq: int, now: float) -> tuple[Any, ...]:
        """This commit's ``commits`` row, as commit ``seq`` of run ``rid``."""
        head = (rid, seq, self.step, now, len(self.consumed), self.status, self.error)
        return (*head, self.collected, *self.result)


@dataclass(slots=True)
class EncodedBatch:
    """A batch of encoded commits and the large payloads they reference, by digest."""

    commits: list[_EncodedCommit] = field(default_factory=list)
    blobs: dict[bytes, bytes] = field(default_factory=dict)


def _value_cols(value: StateValue | None, blobs: dict[bytes, bytes]) -> _ValueCols:
    """``(kind, inline payload, blob digest)`` for a value; large payloads go to ``blobs``."""
    if value is None:
        return _NO_VALUE
    kind, payload = encode_value(value)
    digest = blob_hash(payload)
    if digest is None:
        return kind, payload, None
    blobs[digest] = payload
    return kind, None, digest


def encode_batch(commits: Sequence[Commit]) -> EncodedBatch:
    """Encode a batch outside any transaction, so the write lock is held only for SQL."""
    batch = EncodedBatch()
    blobs = batch.blobs
    for commit in commits:
        writes = []
        for key, value in commit.writes.items():
            if type(key) is not str:
                raise StoreError(f"context keys must be str, not {type(key).__name__}")
            writes.append((key, *_value_cols(value, blobs)))
        events = [
            (ev.event_id, idx, ev.event_type, ev.source_step, ev.target_step, pack(ev.data))
            for idx, ev in enumerate(commit.emitted)
        ]
        collected = None if commit.collected is None else pack(dict(commit.collected))
        result = _value_cols(commit.result, blobs)
        batch.commits.append(
            _EncodedCommit(
                commit.step,
                tuple(commit.consumed),
                commit.status,
                commit.error,
                collected,
                result,
                writes,
                events,
            )
        )
    return batch


def _insert(
    conn: sqlite3.Connection, run_id: str, rid: int, first: int, batch: EncodedBatch, now: float
) -> None:
    """Write an encoded batch as commits ``first``, ``first + 1``, …"""
    commit_rows: list[tuple[Any, ...]] = []
    write_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    consume_rows: list[tuple[int, int, str]] = []
    for seq, ec in enumerate(batch.commits, first):
        commit_rows.append(ec.row(rid, seq, now))
        write_rows.extend((rid, key, seq, i, *cols) for i, (key, *cols) in enumerate(ec.writes))
        event_rows.extend((rid, eid, seq, *rest) for eid, *rest in ec.events)
        consume_rows.extend((seq, rid, eid) for eid in ec.consumed)
    _store_blobs(conn, batch.blobs)
    conn.executemany(_INSERT_COMMIT, commit_rows)
    conn.executemany(_INSERT_WRITE, write_rows)
    try:
        conn.executemany(_INSERT_EVENT, event_rows)
    except sqlite3.IntegrityError as exc:
        raise StoreError(
            f"run {run_id!r}: cannot store the emitted events ({exc}); event ids must be new"
        ) from exc
    if consume_rows and conn.executemany(_CONSUME, consume_rows).rowcount != len(consume_rows):
        seq, eid = _not_pending(conn, rid, consume_rows)
        raise StoreError(
            f"run {run_id!r}: commit {seq} consumes event {eid!r}, which is not pending"
        )


def _store_blobs(conn: sqlite3.Connection, blobs: dict[bytes, bytes]) -> None:
    """Insert each large payload the file does not hold yet (checked first: no big binds)."""
    for digest, payload in blobs.items():
        if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (digest,)).fetchone() is None:
            conn.execute(
                "INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?)",
                (digest, len(payload), payload),
            )


def _not_pending(
    conn: sqlite3.Connection, rid: int, rows: list[tuple[int, int, str]]
) -> tuple[int, str]:
    """The first ``(seq, event_id)`` whose consumption did not apply, to name it in the error."""
    seen: set[str] = set()
    for seq, _, eid in rows:
        row = conn.execute(
            "SELECT consumed_seq FROM events WHERE rid = ? AND event_id = ?", (rid, eid)
        ).fetchone()
        if eid in seen or row is None or row[0] != seq:
            return seq, eid
        seen.add(eid)
    return rows[-1][0], rows[-1][2]


def record_from_row(row: tuple[Any, ...]) -> RunRecord:
    """A ``RunRecord`` from a row of ``RECORD_COLUMNS``."""
    run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, meta = row
    return RunRecord(
        run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, unpack(meta)
    )


def find_run(conn: sqlite3.Connection, run_id: str) -> tuple[int, RunRecord]:
    """``(rid, record)`` of the run, or ``StoreError`` naming the id."""
    row = conn.execute(
        f"SELECT rid, {RECORD_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        raise unknown_run(run_id)
    return row[0], record_from_row(row[1:])


def create_run(
    conn: sqlite3.Connection,
    clock: Clock,
    head: tuple[str, str, RunStatus, str],
    metadata: Mapping[str, Any],
    start: Commit,
) -> None:
    """Insert the run ``(run_id, workflow_name, status, owner)`` and its commit 0."""
    run_id = head[0]
    batch = encode_batch([start])
    packed = pack(dict(metadata))
    with write_txn(conn):
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
            raise StoreConflictError(f"run {run_id!r} already exists")
        now = clock.now()
        cursor = conn.execute(_INSERT_RUN, (*head, packed, now, now))
        assert cursor.lastrowid is not None
        _insert(conn, run_id, cursor.lastrowid, 0, batch, now)


def _owned_run(conn: sqlite3.Connection, run_id: str, owner: str) -> tuple[int, int]:
    """``(rid, last_seq)`` of a run ``owner`` owns; ``StoreError``/``StoreConflictError`` if not."""
    row = conn.execute(
        "SELECT rid, owner, last_seq FROM runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        raise unknown_run(run_id)
    if row[1] != owner:
        raise StoreConflictError(f"run {run_id!r} is owned by {row[1]!r}, not {owner!r}")
    return row[0], row[2]


def commit(
    conn: sqlite3.Connection, clock: Clock, run_id: str, commits: Sequence[Commit], owner: str
) -> int:
    """Append ``commits`` to the run in one transaction; return the last seq."""
    batch = encode_batch(commits)
    status = next((c.status for c in reversed(commits) if c.status is not None), None)
    error = next((c.error for c in reversed(commits) if c.error is not None), None)
    with write_txn(conn):
        rid, last = _owned_run(conn, run_id, owner)
        if not commits:
            return last
        now = clock.now()
        _insert(conn, run_id, rid, last + 1, batch, now)
        last += len(commits)
        conn.execute(_UPDATE_RUN, (last, now, status, error, rid))
    return last


def claim(conn: sqlite3.Connection, run_id: str, owner: str) -> RunRecord:
    """Make ``owner`` the run's owner; return the updated record."""
    with write_txn(conn):
        conn.execute("UPDATE runs SET owner = ? WHERE run_id = ?", (owner, run_id))
        return find_run(conn, run_id)[1]


def delete_run(conn: sqlite3.Connection, run_id: str) -> None:
    """Delete the run, its history and the blobs no other run references."""
    with write_txn(conn):
        row = conn.execute("SELECT rid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise unknown_run(run_id)
        rid = row[0]
        digests = [(digest,) for (digest,) in conn.execute(_RUN_BLOBS, (rid,))]
        for table in ("writes", "events", "commits", "runs"):
            conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))
        conn.executemany(_DROP_BLOB, digests)
    if digests:
        conn.executescript("PRAGMA incremental_vacuum;")
