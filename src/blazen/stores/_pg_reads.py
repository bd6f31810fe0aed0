"""The PostgreSQL store's reads, as coroutines of one asyncpg connection.

A read of several queries runs in one ``REPEATABLE READ READ ONLY`` transaction, so it sees a
single snapshot of the database even while other processes commit. A large blob is read in
``CHUNK`` pieces (``substring`` of an uncompressed, out-of-line column) into the one buffer
the caller gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from blazen.stores._base import EventRow
from blazen.stores._codec import CHUNK, STREAM_LIMIT, Assembly, unpack, value_from_columns
from blazen.stores._pg_ops import EVENT_STATES, RECORD_COLUMNS
from blazen.stores._rows import (
    checkpoint_infos,
    event_from_row,
    load_seq,
    record_from_row,
    value_from_row,
)
from blazen.stores.base import CheckpointInfo, LoadedRun, RunRecord, RunStatus
from blazen.values import StateValue

__all__ = ["checkpoints", "event_states", "events", "find_run", "find_runs", "list_runs", "load"]

# A value's columns: kind, its inline payload, its blob's payload when smaller than
# STREAM_LIMIT ($3), the blob's hash and size (to read a larger one in pieces).
_BLOB_COLUMNS = "CASE WHEN b.size < $3 THEN b.data END, b.hash, b.size"
_STATE_AT = (
    f"SELECT w.key, w.kind, w.data, {_BLOB_COLUMNS} FROM ("
    " SELECT DISTINCT ON (key) key, kind, data, hash FROM writes"
    " WHERE rid = $1 AND seq <= $2 ORDER BY key, seq DESC) w"
    " LEFT JOIN blobs b ON b.hash = w.hash WHERE w.kind IS NOT NULL"
)
_RESULT_AT = (
    f"SELECT c.result_kind, c.result_data, {_BLOB_COLUMNS} FROM commits c"
    " LEFT JOIN blobs b ON b.hash = c.result_hash"
    " WHERE c.rid = $1 AND c.seq <= $2 AND c.result_kind IS NOT NULL ORDER BY c.seq DESC LIMIT 1"
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
_PIECE = "SELECT substring(data FROM $2 FOR $3) FROM blobs WHERE hash = $1"
_EVENTS = (
    "SELECT seq, event_id, event_type, data, source_step, target_step, consumed_seq FROM events"
    " WHERE rid = $1 ORDER BY seq, idx"
)
_COMMITS = (
    "SELECT seq, step, extract(epoch FROM created_at)::float8, consumed, attempt,"
    " coalesce(attempt_error, error), epoch FROM commits WHERE rid = $1 ORDER BY seq"
)


async def find_run(conn: Any, run_id: str) -> tuple[int, RunRecord] | None:
    """``(rid, record)`` of the run, or ``None``."""
    row = await conn.fetchrow(f"SELECT rid, {RECORD_COLUMNS} FROM runs WHERE run_id = $1", run_id)
    return None if row is None else (row[0], record_from_row(tuple(row)[1:]))


def _snapshot(conn: Any) -> Any:
    """A read-only transaction on one snapshot."""
    return conn.transaction(isolation="repeatable_read", readonly=True)


async def _value(conn: Any, row: Sequence[Any]) -> StateValue:
    """A value from ``(kind, inline, small blob, blob hash, blob size)`` columns."""
    kind, inline, small, digest, size = row
    value = value_from_row(kind, inline, small, size)
    if value is not None:
        return value
    whole = Assembly(size)
    for start in range(0, size, CHUNK):
        whole.add(await conn.fetchval(_PIECE, digest, start + 1, CHUNK))
    return value_from_columns(kind, whole.value())


async def load(conn: Any, run_id: str, seq: int | None) -> LoadedRun | None:
    """The run's state after commit ``seq`` (default: the last one), or ``None``."""
    async with _snapshot(conn):
        found = await find_run(conn, run_id)
        if found is None:
            return None
        rid, record = found
        at = load_seq(record, seq)
        state = {
            row[0]: await _value(conn, row[1:])
            for row in await conn.fetch(_STATE_AT, rid, at, STREAM_LIMIT)
        }
        pending = [event_from_row(*row) for row in await conn.fetch(_PENDING_AT, rid, at)]
        collected = await conn.fetchval(_COLLECTED_AT, rid, at)
        result = await conn.fetchrow(_RESULT_AT, rid, at, STREAM_LIMIT)
        value = None if result is None else await _value(conn, result)
    return LoadedRun(
        record, at, state, pending, {} if collected is None else unpack(collected), value
    )


async def event_states(conn: Any, run_id: str, ids: Sequence[str]) -> dict[str, bool]:
    """Of ``ids``, the run's events: ``True`` pending, ``False`` consumed."""
    return {
        eid: bool(pending) for eid, pending in await conn.fetch(EVENT_STATES, run_id, list(ids))
    }


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
    return [record_from_row(row) for row in await conn.fetch(query, *params, limit)]


_LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


async def find_runs(conn: Any, prefix: str, limit: int) -> list[RunRecord]:
    """Up to ``limit`` runs whose id starts with ``prefix``, in id order (``LIKE 'p%'``)."""
    query = (
        f"SELECT {RECORD_COLUMNS} FROM runs WHERE run_id LIKE $1 || '%'"
        ' ORDER BY run_id COLLATE "C" LIMIT $2'
    )
    rows = await conn.fetch(query, prefix.translate(_LIKE_SPECIAL), limit)
    return [record_from_row(tuple(row)) for row in rows]


async def checkpoints(conn: Any, run_id: str) -> list[CheckpointInfo] | None:
    """The run's commit history, oldest first, or ``None``."""
    async with _snapshot(conn):
        found = await find_run(conn, run_id)
        if found is None:
            return None
        rid = found[0]
        keys = await conn.fetch("SELECT seq, key FROM writes WHERE rid = $1 ORDER BY seq, idx", rid)
        ids = await conn.fetch(
            "SELECT seq, event_id FROM events WHERE rid = $1 ORDER BY seq, idx", rid
        )
        rows = await conn.fetch(_COMMITS, rid)
    return checkpoint_infos(rows, keys, ids)


async def events(conn: Any, run_id: str) -> list[EventRow] | None:
    """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``, or ``None``."""
    async with _snapshot(conn):
        found = await find_run(conn, run_id)
        if found is None:
            return None
        rows = await conn.fetch(_EVENTS, found[0])
    return [(seq, event_from_row(*rest), consumed) for seq, *rest, consumed in rows]
