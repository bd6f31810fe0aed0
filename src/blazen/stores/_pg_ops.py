"""The PostgreSQL store's writes: an encoded batch as the column arrays of one server call.

A whole ``commit`` (or ``create_run``) is one ``SELECT blazen_commit(...)`` statement: the
server function in ``_sql/postgres/0001_init.sql`` locks the run row, checks the owner, stores
the blobs, inserts every row with ``unnest`` and marks the consumed events, all in the
statement's own transaction. A large blob the server lacks is streamed first, in pieces, by a
binary ``COPY`` in the same transaction (``copy_source``), so it is never copied whole.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Collection
from typing import Any

import asyncpg

from blazen.stores._batch import Blob, EncodedBatch
from blazen.stores._codec import DELETED, STREAM_LIMIT, chunks
from blazen.stores._errors import Refusal, Refused
from blazen.stores._rows import RECORD_FIELDS

__all__ = [
    "COMMIT",
    "DELETE_RUN",
    "EVENT_STATES",
    "KNOWN_BLOBS",
    "RECORD_COLUMNS",
    "WRITE",
    "arrays",
    "copy_source",
    "streamed",
    "write",
]

RETRIES = 5
"""Attempts of a write that hit a deadlock, a serialization failure or a blob race."""
_RETRY_CODES = frozenset({"40001", "40P01", "BZ003"})
COMMIT = "SELECT blazen_commit(" + ", ".join(f"${i}" for i in range(1, 34)) + ")"
WRITE = "SELECT blazen_write(" + ", ".join(f"${i}" for i in range(1, 39)) + ")"
"""``blazen_commit`` fenced by the epoch, with the lease rules and attempts (schema 2)."""
DELETE_RUN = "SELECT blazen_delete_run($1)"
KNOWN_BLOBS = "SELECT hash FROM blobs WHERE hash = ANY($1::bytea[])"
EVENT_STATES = (
    "SELECT e.event_id, e.consumed_seq IS NULL FROM events e JOIN runs r ON r.rid = e.rid"
    " WHERE r.run_id = $1 AND e.event_id = ANY($2::text[])"
)
_TIMES = {
    "created_at": "extract(epoch FROM created_at)::float8",
    "updated_at": "extract(epoch FROM updated_at)::float8",
}
RECORD_COLUMNS = ", ".join(_TIMES.get(name, name) for name in RECORD_FIELDS)

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_END = struct.pack("!h", -1)


def streamed(batch: EncodedBatch, known: Collection[bytes]) -> dict[bytes, Blob]:
    """The batch's large blobs that the server lacks: they go by ``COPY``, in pieces."""
    return {
        digest: blob
        for digest, blob in batch.blobs.items()
        if digest not in known and len(blob.payload) >= STREAM_LIMIT
    }


async def copy_source(blobs: dict[bytes, Blob]) -> AsyncIterator[bytes | memoryview]:
    """The binary ``COPY blobs (hash, size, refs, data)`` stream of ``blobs`` (refs 0: the
    commit function counts them), each payload sent as views of the caller's buffer."""
    yield _COPY_HEADER
    for digest, blob in blobs.items():
        size = len(blob.payload)
        head = struct.pack("!hi", 4, len(digest)) + digest
        yield head + struct.pack("!iqiqi", 8, size, 8, 0, size)
        for piece in chunks(blob.payload):
            yield piece
    yield _COPY_END


def arrays(batch: EncodedBatch, known: Collection[bytes]) -> list[list[Any]]:
    """The array arguments of ``blazen_commit`` for ``batch``; a blob in ``known`` (already
    on the server, or streamed just before) is sent without its payload."""
    commits: list[list[Any]] = [[] for _ in range(8)]
    writes: list[list[Any]] = [[] for _ in range(6)]
    events: list[list[Any]] = [[] for _ in range(7)]
    consumes: list[list[Any]] = [[], []]
    for n, ec in enumerate(batch.commits):
        head = (
            ec.step,
            len(ec.consumed),
            ec.status,
            ec.error,
            ec.collected,
            *(ec.result or DELETED),
        )
        _append(commits, head)
        for idx, (key, columns) in enumerate(ec.writes):
            _append(writes, (n, idx, key, *columns))
        for idx, ev in enumerate(ec.emitted):
            _append(events, (n, idx, *ev))
        for event_id in ec.consumed:
            _append(consumes, (n, event_id))
    hashes = sorted(batch.blobs)
    refs = [batch.blobs[h].refs for h in hashes]
    data = [None if h in known else batch.blobs[h].payload for h in hashes]
    return [*commits, *writes, *events, *consumes, hashes, refs, data]


def _append(columns: list[list[Any]], row: tuple[Any, ...]) -> None:
    """Add one row to column arrays."""
    for column, cell in zip(columns, row, strict=True):
        column.append(cell)


async def write(
    conn: Any,
    schema: str,
    head: tuple[Any, ...],
    batch: EncodedBatch,
    call: str = COMMIT,
    prefix: tuple[Any, ...] = (),
) -> int:
    """Call ``blazen_commit`` (``head``: its first 7 arguments; or ``call`` with ``prefix``
    arguments first), retrying a write that hit a deadlock or a blob freed or streamed
    meanwhile; ``Refused`` when the server refuses."""
    ask = True  # whether to ask the server which blobs it has (not after one vanished)
    for attempt in range(1, RETRIES + 1):
        known: set[bytes] = set()
        if batch.blobs and ask:
            known = {row[0] for row in await conn.fetch(KNOWN_BLOBS, list(batch.blobs))}
        try:
            return await _commit(conn, schema, (*prefix, *head), batch, known, call)
        except asyncpg.PostgresError as exc:
            refusal = _refusal(exc, create=bool(head[0]))
            if refusal is not None:
                raise Refused(refusal) from None
            if attempt >= RETRIES or not _retry(exc):
                raise
            ask = exc.sqlstate != "BZ003"
    raise AssertionError("unreachable")  # pragma: no cover


async def _commit(
    conn: Any,
    schema: str,
    head: tuple[Any, ...],
    batch: EncodedBatch,
    known: set[bytes],
    call: str = COMMIT,
) -> int:
    """One ``blazen_commit`` call; large blobs to stream make it ``COPY`` + call in one txn."""
    big = streamed(batch, known)
    if not big:
        return int(await conn.fetchval(call, *head, *arrays(batch, known)))
    async with conn.transaction():
        await conn.copy_to_table(
            "blobs",
            schema_name=schema,
            columns=["hash", "size", "refs", "data"],
            source=copy_source(big),
            format="binary",
        )
        return int(await conn.fetchval(call, *head, *arrays(batch, known | big.keys())))


def _refusal(exc: asyncpg.PostgresError, *, create: bool) -> Refusal | None:
    """The refusal a server error reports (``None``: a real error, or one to retry)."""
    code = exc.sqlstate
    if code == "BZ001":
        return Refusal.UNKNOWN_RUN
    if code == "BZ002":
        return Refusal.RUN_EXISTS if create else Refusal.NOT_OWNER
    if code == "BZ004" or (code == "23505" and _constraint(exc) == "events_unique_id"):
        return Refusal.EVENTS
    return None


def _retry(exc: asyncpg.PostgresError) -> bool:
    """A deadlock, a serialization failure, a blob freed meanwhile, or one streamed twice."""
    blob_raced = exc.sqlstate == "23505" and _constraint(exc) == "blobs_pkey"
    return exc.sqlstate in _RETRY_CODES or blob_raced


def _constraint(exc: asyncpg.PostgresError) -> str:
    """The name of the constraint a server error is about ('' if none)."""
    return str(getattr(exc, "constraint_name", "") or "")
