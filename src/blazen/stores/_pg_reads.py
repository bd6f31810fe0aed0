"""The PostgreSQL store's reads, as coroutines of one asyncpg connection.

A read of several queries runs in one ``REPEATABLE READ READ ONLY`` transaction, so it sees a
single snapshot of the database even while other processes commit.
"""

from __future__ import annotations

from typing import Any

from blazen.errors import StoreError
from blazen.stores._codec import decode_value, unknown_run, unpack
from blazen.stores._pg_ops import RECORD_COLUMNS
from blazen.stores.base import CheckpointInfo, LoadedRun, PendingEvent, RunRecord, RunStatus

__all__ = ["checkpoints", "events", "find_run", "list_runs", "load", "record_from_row"]

_STATE_AT = (
    "SELECT w.key, w.kind, coalesce(w.data, b.data) FROM ("
    " SELECT DISTINCT ON (key) key, kind, data, hash FROM writes"
    " WHERE rid = $1 AND seq <= $2 ORDER BY key, seq DESC) w"
    " LEFT JOIN blobs b ON b.hash = w.hash WHERE w.kind IS NOT NULL"
)
_PENDING_AT = (
    "SELECT event_id, event_type, data, source_step, target_step FROM events"
    " WHERE rid = $1 AND seq <= $2 AND (consumed_seq IS NULL OR consumed_seq > $2)"
    " ORDER BY seq, idx"
)
_COLLECTED_AT = (
    "SELECT collected FROM commits WHERE rid = $1 AND seq <= $2 AND collected IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)
_RESULT_AT = (
    "SELECT c.result_kind, coalesce(c.result_data, b.data) FROM commits c"
    " LEFT JOIN blobs b ON b.hash = c.result_hash"
    " WHERE c.rid = $1 AND c.seq <= $2 AND c.result_kind IS NOT NULL ORDER BY c.seq DESC LIMIT 1"
)
_EVENTS = (
    "SELECT seq, event_id, event_type, data, source_step, target_step, consumed_seq FROM events"
    " WHERE rid = $1 ORDER BY seq, idx"
)
_COMMITS = (
    "SELECT seq, step, extract(epoch FROM created_at)::float8, consumed FROM commits"
    " WHERE rid = $1 ORDER BY seq"
)


def record_from_row(row: Any) -> RunRecord:
    """A ``RunRecord`` from a row of ``RECORD_COLUMNS``."""
    run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, meta = row
    return RunRecord(
        run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, unpack(meta)
    )


async def find_run(conn: Any, run_id: str) -> tuple[int, RunRecord]:
    """``(rid, record)`` of the run, or ``StoreError`` naming the id."""
    row = await conn.fetchrow(f"SELECT rid, {RECORD_COLUMNS} FROM runs WHERE run_id = $1", run_id)
    if row is None:
        raise unknown_run(run_id)
    return row[0], record_from_row(tuple(row)[1:])


def _snapshot(conn: Any) -> Any:
    """A read-only transaction on one snapshot."""
    return conn.transaction(isolation="repeatable_read", readonly=True)


async def load(conn: Any, run_id: str, seq: int | None) -> LoadedRun:
    """The run's state after commit ``seq`` (default: the last one)."""
    async with _snapshot(conn):
        rid, record = await find_run(conn, run_id)
        at = record.last_seq if seq is None else seq
        if not 0 <= at <= record.last_seq:
            raise StoreError(f"run {run_id!r} has no commit {seq} (last is {record.last_seq})")
        state = await conn.fetch(_STATE_AT, rid, at)
        pending = await conn.fetch(_PENDING_AT, rid, at)
        collected = await conn.fetchval(_COLLECTED_AT, rid, at)
        result = await conn.fetchrow(_RESULT_AT, rid, at)
    return LoadedRun(
        record,
        at,
        {key: decode_value(kind, payload) for key, kind, payload in state},
        [PendingEvent(eid, et, unpack(data), src, dst) for eid, et, data, src, dst in pending],
        unpack(collected) if collected is not None else {},
        None if result is None else decode_value(result[0], result[1]),
    )


async def list_runs(
    conn: Any, workflow_name: str | None, status: RunStatus | None, limit: int
) -> list[RunRecord]:
    """Runs matching the filters, most recently updated first."""
    clauses, params = ["true"], []
    for column, value in (("workflow_name", workflow_name), ("status", status)):
        if value is not None:
            params.append(value)
            clauses.append(f"{column} = ${len(params)}")
    query = (
        f"SELECT {RECORD_COLUMNS} FROM runs WHERE {' AND '.join(clauses)}"
        f" ORDER BY updated_at DESC, rid DESC LIMIT ${len(params) + 1}"
    )
    return [record_from_row(row) for row in await conn.fetch(query, *params, max(limit, 0))]


async def checkpoints(conn: Any, run_id: str) -> list[CheckpointInfo]:
    """The run's commit history, oldest first."""
    async with _snapshot(conn):
        rid = (await find_run(conn, run_id))[0]
        keys = await conn.fetch("SELECT seq, key FROM writes WHERE rid = $1 ORDER BY seq, idx", rid)
        ids = await conn.fetch(
            "SELECT seq, event_id FROM events WHERE rid = $1 ORDER BY seq, idx", rid
        )
        rows = await conn.fetch(_COMMITS, rid)
    writes: dict[int, list[str]] = {}
    for seq, key in keys:
        writes.setdefault(seq, []).append(key)
    emitted: dict[int, list[str]] = {}
    for seq, eid in ids:
        emitted.setdefault(seq, []).append(eid)
    return [
        CheckpointInfo(
            seq, step, created, tuple(writes.get(seq, ())), tuple(emitted.get(seq, ())), consumed
        )
        for seq, step, created, consumed in rows
    ]


async def events(conn: Any, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
    """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
    async with _snapshot(conn):
        rid = (await find_run(conn, run_id))[0]
        rows = await conn.fetch(_EVENTS, rid)
    return [
        (seq, PendingEvent(eid, etype, unpack(data), source, target), consumed)
        for seq, eid, etype, data, source, target, consumed in rows
    ]
