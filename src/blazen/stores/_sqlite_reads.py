"""The SQLite store's reads, as blocking functions of a connection (run on the store's thread).

Each read runs in one deferred transaction, so it sees a single consistent snapshot of the
file even while other processes commit.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from blazen.errors import StoreError
from blazen.stores._codec import decode_value, unpack
from blazen.stores._sqlite_file import read_txn
from blazen.stores._sqlite_ops import RECORD_COLUMNS, find_run, record_from_row
from blazen.stores.base import CheckpointInfo, LoadedRun, PendingEvent, RunRecord, RunStatus
from blazen.values import StateValue

__all__ = ["checkpoints", "events", "get_run", "list_runs", "load"]

_STATE_AT = (
    "SELECT w.key, w.kind, coalesce(w.data, b.data)"
    " FROM (SELECT key, max(seq) AS seq FROM writes WHERE rid = ?1 AND seq <= ?2 GROUP BY key) m"
    " JOIN writes w ON w.rid = ?1 AND w.key = m.key AND w.seq = m.seq"
    " LEFT JOIN blobs b ON b.hash = w.hash"
    " WHERE w.kind IS NOT NULL"
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
_RESULT_AT = (
    "SELECT c.result_kind, coalesce(c.result_data, b.data) FROM commits c"
    " LEFT JOIN blobs b ON b.hash = c.result_hash"
    " WHERE c.rid = ? AND c.seq <= ? AND c.result_kind IS NOT NULL ORDER BY c.seq DESC LIMIT 1"
)
_EVENTS = (
    "SELECT seq, event_id, event_type, data, source_step, target_step, consumed_seq FROM events"
    " WHERE rid = ? ORDER BY seq, idx"
)


def get_run(conn: sqlite3.Connection, run_id: str) -> RunRecord:
    """The run's record."""
    with read_txn(conn):
        return find_run(conn, run_id)[1]


def load(conn: sqlite3.Connection, run_id: str, seq: int | None) -> LoadedRun:
    """The run's state after commit ``seq`` (default: the last one)."""
    with read_txn(conn):
        rid, record = find_run(conn, run_id)
        at = record.last_seq if seq is None else seq
        if not 0 <= at <= record.last_seq:
            raise StoreError(f"run {run_id!r} has no commit {seq} (last is {record.last_seq})")
        state = {
            key: decode_value(kind, payload)
            for key, kind, payload in conn.execute(_STATE_AT, (rid, at))
        }
        pending = [
            PendingEvent(eid, etype, unpack(data), source, target)
            for eid, etype, data, source, target in conn.execute(_PENDING_AT, (rid, at))
        ]
        collected = conn.execute(_COLLECTED_AT, (rid, at)).fetchone()
        result = conn.execute(_RESULT_AT, (rid, at)).fetchone()
    return LoadedRun(
        record,
        at,
        state,
        pending,
        unpack(collected[0]) if collected else {},
        _decode_result(result),
    )


def _decode_result(row: tuple[str, bytes] | None) -> StateValue | None:
    """The result value of a ``_RESULT_AT`` row, if any."""
    return None if row is None else decode_value(row[0], row[1])


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
        return [record_from_row(row) for row in conn.execute(query, (*params, max(limit, 0)))]


def checkpoints(conn: sqlite3.Connection, run_id: str) -> list[CheckpointInfo]:
    """The run's commit history, oldest first."""
    with read_txn(conn):
        rid = find_run(conn, run_id)[0]
        writes: dict[int, list[str]] = {}
        for seq, key in conn.execute(
            "SELECT seq, key FROM writes WHERE rid = ? ORDER BY seq, idx", (rid,)
        ):
            writes.setdefault(seq, []).append(key)
        emitted: dict[int, list[str]] = {}
        for seq, eid in conn.execute(
            "SELECT seq, event_id FROM events WHERE rid = ? ORDER BY seq, idx", (rid,)
        ):
            emitted.setdefault(seq, []).append(eid)
        rows = conn.execute(
            "SELECT seq, step, created_at, consumed FROM commits WHERE rid = ? ORDER BY seq",
            (rid,),
        ).fetchall()
    return [
        CheckpointInfo(
            seq, step, created, tuple(writes.get(seq, ())), tuple(emitted.get(seq, ())), consumed
        )
        for seq, step, created, consumed in rows
    ]


def events(conn: sqlite3.Connection, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
    """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
    with read_txn(conn):
        rid = find_run(conn, run_id)[0]
        rows = conn.execute(_EVENTS, (rid,)).fetchall()
    return [
        (seq, PendingEvent(eid, etype, unpack(data), source, target), consumed)
        for seq, eid, etype, data, source, target, consumed in rows
    ]
