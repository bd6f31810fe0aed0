"""The SQLite store's reads, as blocking functions of a connection (run on the store's thread).

Each read runs in one deferred transaction, so it sees a single consistent snapshot of the
file even while other processes commit. A large blob is read through ``blobopen`` straight
into the one ``bytes`` object the caller gets (no intermediate copy).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from blazen.stores import _sqlite_file as sqlite_file
from blazen.stores._base import EventRow
from blazen.stores._codec import STREAM_LIMIT, unpack, value_from_columns
from blazen.stores._rows import (
    checkpoint_infos,
    event_from_row,
    load_seq,
    record_from_row,
    value_from_row,
)
from blazen.stores._sqlite_file import read_txn
from blazen.stores._sqlite_ops import RECORD_COLUMNS, find_run
from blazen.stores.base import CheckpointInfo, LoadedRun, RunRecord, RunStatus
from blazen.values import StateValue

__all__ = ["FIND_RUNS", "checkpoints", "events", "find_runs", "get_run", "list_runs", "load"]

# A value's columns: kind, then its inline payload, or its blob's payload (when smaller than
# STREAM_LIMIT, ?3), or the blob's rowid and size to read it incrementally.
_BLOB_COLUMNS = "CASE WHEN b.size < ?3 THEN b.data END, b.rowid, b.size"
_STATE_AT = (
    f"SELECT w.key, w.kind, w.data, {_BLOB_COLUMNS}"
    " FROM (SELECT key, max(seq) AS seq FROM writes WHERE rid = ?1 AND seq <= ?2 GROUP BY key) m"
    " JOIN writes w ON w.rid = ?1 AND w.key = m.key AND w.seq = m.seq"
    " LEFT JOIN blobs b ON b.hash = w.hash"
    " WHERE w.kind IS NOT NULL"
)
_RESULT_AT = (
    f"SELECT c.result_kind, c.result_data, {_BLOB_COLUMNS} FROM commits c"
    " LEFT JOIN blobs b ON b.hash = c.result_hash"
    " WHERE c.rid = ?1 AND c.seq <= ?2 AND c.result_kind IS NOT NULL ORDER BY c.seq DESC LIMIT 1"
)
_PENDING_AT = (
    "SELECT event_id, event_type, data, source_step, target_step FROM events"
    " WHERE rid = ?1 AND seq <= ?2 AND (consumed_seq IS NULL OR consumed_seq > ?2)"
    " ORDER BY seq, idx"
)
_COLLECTED_AT = (
    "SELECT collected FROM commits WHERE rid = ? AND seq <= ? AND collected IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)
_EVENTS = (
    "SELECT seq, event_id, event_type, data, source_step, target_step, consumed_seq FROM events"
    " WHERE rid = ? ORDER BY seq, idx"
)


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    """The run's record, or ``None``."""
    with read_txn(conn):
        found = find_run(conn, run_id)
    return None if found is None else found[1]


def _value(conn: sqlite3.Connection, row: tuple[Any, ...]) -> StateValue:
    """A value from ``(kind, inline, small blob, blob rowid, blob size)`` columns."""
    kind, inline, small, rowid, size = row
    value = value_from_row(kind, inline, small, size)
    if value is not None:
        return value
    return value_from_columns(kind, sqlite_file.read_blob(conn, rowid))


def load(conn: sqlite3.Connection, run_id: str, seq: int | None) -> LoadedRun | None:
    """The run's state after commit ``seq`` (default: the last one), or ``None``."""
    with read_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return None
        rid, record = found
        at = load_seq(record, seq)
        args = (rid, at, STREAM_LIMIT)
        state = {row[0]: _value(conn, row[1:]) for row in conn.execute(_STATE_AT, args)}
        pending = [event_from_row(*row) for row in conn.execute(_PENDING_AT, (rid, at))]
        collected = conn.execute(_COLLECTED_AT, (rid, at)).fetchone()
        result = conn.execute(_RESULT_AT, args).fetchone()
        value = None if result is None else _value(conn, result)
    return LoadedRun(record, at, state, pending, unpack(collected[0]) if collected else {}, value)


def list_runs(
    conn: sqlite3.Connection, workflow_name: str | None, status: RunStatus | None, limit: int
) -> list[RunRecord]:
    """Runs matching the filters, most recently updated first."""
    clauses = ["1"]
    params: list[Any] = []
    if workflow_name is not None:
        clauses.append("workflow_name = ?")
        params.append(workflow_name)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    query = (
        f"SELECT {RECORD_COLUMNS} FROM runs WHERE {' AND '.join(clauses)}"
        " ORDER BY updated_at DESC, rid DESC LIMIT ?"
    )
    with read_txn(conn):
        return [record_from_row(row) for row in conn.execute(query, (*params, limit))]


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (``None``: no bound).

    SQLite compares TEXT as UTF-8 bytes, whose order is code point order, so the ids starting
    with ``prefix`` are exactly those in ``[prefix, _after_prefix(prefix))``.
    """
    text = prefix
    while text:
        point = ord(text[-1]) + 1
        if 0xD800 <= point <= 0xDFFF:
            point = 0xE000  # surrogates are not text
        if point <= 0x10FFFF:
            return text[:-1] + chr(point)
        text = text[:-1]
    return None


FIND_RUNS = (
    f"SELECT {RECORD_COLUMNS} FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT ?"
)
_FIND_FROM = f"SELECT {RECORD_COLUMNS} FROM runs WHERE run_id >= ? ORDER BY run_id LIMIT ?"


def find_runs(conn: sqlite3.Connection, prefix: str, limit: int) -> list[RunRecord]:
    """Up to ``limit`` runs whose id starts with ``prefix``, in id order (a range scan of
    the UNIQUE index on ``run_id``)."""
    upper = _after_prefix(prefix)
    with read_txn(conn):
        if upper is None:
            rows = conn.execute(_FIND_FROM, (prefix, limit))
        else:
            rows = conn.execute(FIND_RUNS, (prefix, upper, limit))
        return [record_from_row(row) for row in rows]


def checkpoints(conn: sqlite3.Connection, run_id: str) -> list[CheckpointInfo] | None:
    """The run's commit history, oldest first, or ``None``."""
    with read_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return None
        rid = found[0]
        writes = conn.execute("SELECT seq, key FROM writes WHERE rid = ? ORDER BY seq, idx", (rid,))
        keys = writes.fetchall()
        ids = conn.execute(
            "SELECT seq, event_id FROM events WHERE rid = ? ORDER BY seq, idx", (rid,)
        ).fetchall()
        rows = conn.execute(
            "SELECT seq, step, created_at, consumed, attempt, coalesce(attempt_error, error),"
            " epoch FROM commits WHERE rid = ? ORDER BY seq",
            (rid,),
        ).fetchall()
    return checkpoint_infos(rows, keys, ids)


def events(conn: sqlite3.Connection, run_id: str) -> list[EventRow] | None:
    """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``, or ``None``."""
    with read_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return None
        rows = conn.execute(_EVENTS, (found[0],)).fetchall()
    return [(seq, event_from_row(*rest), consumed) for seq, *rest, consumed in rows]
