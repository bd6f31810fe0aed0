"""The SQLite store's writes, as blocking functions of a connection (run on the store's thread).

A batch arrives encoded (``_batch``) and is written with a few multi-row ``INSERT``s in one
``BEGIN IMMEDIATE`` transaction: any failure rolls it all back. A refused write raises
``Refused``; the shared layer words the error. A large blob is written from the caller's
buffer in pieces through ``blobopen`` (no copy of the whole payload).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from itertools import chain
from typing import Any

from blazen.stores import _sqlite_file as sqlite_file
from blazen.stores._base import RunHead
from blazen.stores._batch import Blob, EncodedBatch
from blazen.stores._codec import DELETED, INLINE_LIMIT, STREAM_LIMIT, Clock
from blazen.stores._errors import Refusal, Refused
from blazen.stores._rows import RECORD_FIELDS, record_from_row
from blazen.stores._sqlite_file import read_txn, write_txn
from blazen.stores.base import RunRecord

__all__ = [
    "RECORD_COLUMNS",
    "append",
    "append_in_txn",
    "claim",
    "delete_run",
    "event_states",
    "find_run",
    "insert_run",
]

RECORD_COLUMNS = ", ".join(RECORD_FIELDS)
_INSERT_RUN = (
    "INSERT INTO runs (run_id, workflow_name, status, owner, metadata, created_at, updated_at,"
    " last_seq, epoch, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
# sqlite3 binds None (and bytes) through its adapter lookup, which costs about as much as a
# row's b-tree insert: the common shapes of a row get statements with NULL written in.
_INSERT_COMMIT = (
    "INSERT INTO commits (rid, seq, step, created_at, consumed, epoch, status, error, collected,"
    " result_kind, result_data, result_hash, attempt, attempt_error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_PLAIN_COMMIT = (  # no status, error, collect buffers or result; a first attempt
    "INSERT INTO commits (rid, seq, step, created_at, consumed, epoch) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_STATUS_COMMIT = (  # the same with a status: a step's commit in a durable run
    "INSERT INTO commits (rid, seq, step, created_at, consumed, epoch, status)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WRITE = (
    "INSERT INTO writes (rid, key, seq, idx, kind, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_INLINE_WRITE = (  # a value stored inline, not as a blob
    "INSERT INTO writes (rid, key, seq, idx, kind, data) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (  # the columns of an EncodedEvent come last, in its field order
    "INSERT INTO events (rid, seq, idx, event_id, event_type, source_step, target_step, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_CONSUMED_EVENT = (  # an event a later commit of the same batch consumes
    "INSERT INTO events (consumed_seq, rid, seq, idx, event_id, event_type, source_step,"
    " target_step, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONSUME = (
    "UPDATE events SET consumed_seq = ?1"
    " WHERE rid = ?2 AND event_id = ?3 AND consumed_seq IS NULL AND seq < ?1"
)
_UPDATE_RUN = (
    "UPDATE runs SET last_seq = ?, updated_at = ?, status = coalesce(?, status),"
    " error = coalesce(?, error) WHERE rid = ?"
)
_END_LEASE = "UPDATE runs SET owner = NULL, lease_until = NULL WHERE rid = ?"
_FINAL = frozenset({"completed", "failed", "cancelled"})
_RUN_BLOBS = (
    "SELECT hash FROM writes WHERE rid = ?1 AND hash IS NOT NULL"
    " UNION SELECT result_hash FROM commits WHERE rid = ?1 AND result_hash IS NOT NULL"
)
_DROP_BLOB = (
    "DELETE FROM blobs WHERE hash = ?1 AND NOT EXISTS (SELECT 1 FROM writes WHERE hash = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM commits WHERE result_hash = ?1)"
)
_MAX_PARAMS = 500
"""Ids per ``IN (...)`` query, well under SQLite's bound-parameter limit."""


def _insert(
    conn: sqlite3.Connection, rid: int, first: int, batch: EncodedBatch, now: float, epoch: int = 0
) -> None:
    """Write an encoded batch as commits ``first``, ``first + 1``, … (made at ``epoch``).

    The loop runs once per commit on the store's thread, holding the GIL that the event loop
    needs too, so it builds each row in one go. A small payload is bound as a ``bytearray``
    copy: sqlite3 sends ``bytes`` (and ``None``) through its adapter lookup, which fails slowly
    (about as costly as the row's b-tree insert); large payloads are bound as they are.
    """
    consumed_in = batch.consumed_in
    plain_rows: list[tuple[Any, ...]] = []
    status_rows: list[tuple[Any, ...]] = []
    commit_rows: list[tuple[Any, ...]] = []
    inline_rows: list[tuple[Any, ...]] = []
    write_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    consumed_rows: list[tuple[Any, ...]] = []
    consume_rows: list[tuple[int, int, str]] = []
    small = INLINE_LIMIT
    for seq, ec in enumerate(batch.commits, first):
        status = ec.status
        n_consumed = len(ec.consumed)
        if (
            ec.error is None
            and ec.collected is None
            and ec.result is None
            and ec.attempt == 1
            and ec.attempt_error is None
        ):
            if status is None:
                plain_rows.append((rid, seq, ec.step, now, n_consumed, epoch))
            else:
                status_rows.append((rid, seq, ec.step, now, n_consumed, epoch, status))
        else:
            result = ec.result or DELETED
            commit_rows.append(
                (
                    rid,
                    seq,
                    ec.step,
                    now,
                    n_consumed,
                    epoch,
                    status,
                    ec.error,
                    ec.collected,
                    *result,
                    ec.attempt,
                    ec.attempt_error,
                )
            )
        for i, (key, (kind, data, digest)) in enumerate(ec.writes):
            if data is None:
                write_rows.append((rid, key, seq, i, kind, None, digest))
            else:
                bound = bytearray(data) if len(data) < small else data
                inline_rows.append((rid, key, seq, i, kind, bound))
        for i, (event_id, event_type, src, target, data) in enumerate(ec.emitted):
            bound = bytearray(data) if len(data) < small else data
            row = (rid, seq, i, event_id, event_type, src, target, bound)
            by = consumed_in.get(event_id)
            if by is None:
                event_rows.append(row)
            else:
                consumed_rows.append((first + by, *row))
        for event_id in ec.consumed:
            if event_id not in consumed_in:
                consume_rows.append((seq, rid, event_id))
    _store_blobs(conn, batch.blobs)
    for sql, rows in (
        (_INSERT_PLAIN_COMMIT, plain_rows),
        (_INSERT_STATUS_COMMIT, status_rows),
        (_INSERT_COMMIT, commit_rows),
        (_INSERT_INLINE_WRITE, inline_rows),
        (_INSERT_WRITE, write_rows),
    ):
        _insert_rows(conn, sql, rows)
    try:
        _insert_rows(conn, _INSERT_EVENT, event_rows)
        _insert_rows(conn, _INSERT_CONSUMED_EVENT, consumed_rows)
    except sqlite3.IntegrityError:
        raise Refused(Refusal.EVENTS) from None
    if consume_rows and conn.executemany(_CONSUME, consume_rows).rowcount != len(consume_rows):
        raise Refused(Refusal.EVENTS)


_CHUNKS = (64, 16, 4, 1)
"""Rows per multi-row ``INSERT``: full chunks of 64, the rest in 16s, 4s and 1s (so a few
statement texts serve every batch size, within SQLite's 999 bound parameters)."""
_MULTI: dict[tuple[str, int], str] = {}


def _insert_rows(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` with ``sql`` (one ``VALUES (...)`` group), many rows per statement.

    One statement inserting 64 rows is one call into SQLite, during which the sqlite3 module
    releases the GIL: the b-tree work then runs beside the event loop's thread instead of
    taking turns with it row by row, as ``executemany`` does.
    """
    at = 0
    for size in _CHUNKS:
        while len(rows) - at >= size:
            text = _MULTI.get((sql, size))
            if text is None:
                head, _, group = sql.rpartition(" VALUES ")
                text = _MULTI[sql, size] = f"{head} VALUES {', '.join([group] * size)}"
            conn.execute(text, list(chain.from_iterable(rows[at : at + size])))
            at += size


def _store_blobs(conn: sqlite3.Connection, blobs: dict[bytes, Blob]) -> None:
    """Insert each large payload the file does not hold yet (checked first: no big binds)."""
    for digest, blob in blobs.items():
        if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (digest,)).fetchone() is not None:
            continue
        payload = blob.payload
        if len(payload) >= STREAM_LIMIT:
            sqlite_file.insert_blob(conn, digest, payload)
        else:
            conn.execute(
                "INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?)",
                (digest, len(payload), payload),
            )


def find_run(conn: sqlite3.Connection, run_id: str) -> tuple[int, RunRecord] | None:
    """``(rid, record)`` of the run, or ``None`` when the file has no such run."""
    row = conn.execute(
        f"SELECT rid, {RECORD_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    return None if row is None else (row[0], record_from_row(row[1:]))


def insert_run(conn: sqlite3.Connection, clock: Clock, head: RunHead, batch: EncodedBatch) -> None:
    """Insert the run and its commit 0."""
    with write_txn(conn):
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (head.run_id,)).fetchone():
            raise Refused(Refusal.RUN_EXISTS)
        now = clock.now()
        row = (head.run_id, head.workflow_name, head.status, head.owner, head.metadata, now, now)
        lease_until = None if head.owner is None else time.time() + head.lease
        cursor = conn.execute(_INSERT_RUN, (*row, head.epoch, lease_until))
        assert cursor.lastrowid is not None
        _insert(conn, cursor.lastrowid, 0, batch, now, head.epoch)


def append(
    conn: sqlite3.Connection,
    clock: Clock,
    run_id: str,
    owner: str | None,
    epoch: int | None,
    batch: EncodedBatch,
) -> int:
    """Append the batch to the run in one transaction; return the last seq.

    ``owner`` None appends whoever owns the run (a posted event).
    """
    with write_txn(conn):
        return append_in_txn(conn, clock, run_id, owner, epoch, batch)


def append_in_txn(
    conn: sqlite3.Connection,
    clock: Clock,
    run_id: str,
    owner: str | None,
    epoch: int | None,
    batch: EncodedBatch,
) -> int:
    """``append`` inside the caller's write transaction."""
    row = conn.execute(
        "SELECT rid, owner, last_seq, epoch FROM runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        raise Refused(Refusal.UNKNOWN_RUN)
    rid, holder, last, current = row
    if owner is not None and (holder != owner or epoch not in (None, current)):
        raise Refused(Refusal.NOT_OWNER)
    now = clock.now()
    _insert(conn, rid, last + 1, batch, now, current)
    last += len(batch.commits)
    conn.execute(_UPDATE_RUN, (last, now, batch.status, batch.error, rid))
    if batch.status in _FINAL:
        conn.execute(_END_LEASE, (rid,))
    return int(last)


def event_states(conn: sqlite3.Connection, run_id: str, ids: Sequence[str]) -> dict[str, bool]:
    """Of ``ids``, the run's events: ``True`` pending, ``False`` consumed."""
    states: dict[str, bool] = {}
    with read_txn(conn):
        row = conn.execute("SELECT rid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return states
        for at in range(0, len(ids), _MAX_PARAMS):
            part = ids[at : at + _MAX_PARAMS]
            marks = ", ".join("?" * len(part))
            query = (
                "SELECT event_id, consumed_seq IS NULL FROM events"
                f" WHERE rid = ? AND event_id IN ({marks})"
            )
            states.update((eid, bool(p)) for eid, p in conn.execute(query, (row[0], *part)))
    return states


def claim(conn: sqlite3.Connection, run_id: str, owner: str, lease: float) -> RunRecord | None:
    """Make ``owner`` the run's owner; the updated record, or ``None`` for an unknown run."""
    with write_txn(conn):
        conn.execute(
            "UPDATE runs SET owner = ?, epoch = epoch + 1, lease_until = ? WHERE run_id = ?",
            (owner, time.time() + lease, run_id),
        )
        found = find_run(conn, run_id)
    return None if found is None else found[1]


def delete_run(conn: sqlite3.Connection, run_id: str) -> bool:
    """Delete the run, its history and the blobs no other run references."""
    with write_txn(conn):
        row = conn.execute("SELECT rid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return False
        rid = row[0]
        digests = [(digest,) for (digest,) in conn.execute(_RUN_BLOBS, (rid,))]
        for table in ("writes", "events", "commits", "runs"):
            conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))
        conn.executemany(_DROP_BLOB, digests)
    if digests:
        conn.executescript("PRAGMA incremental_vacuum;")
    return True
