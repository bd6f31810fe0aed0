"""The PostgreSQL store's lease, queue and control operations, and its LISTEN subscription.

Each claim is one ``UPDATE … WHERE`` whose condition is re-checked under the row lock, so two
workers never get the same run; ``acquire_next`` picks the run with ``FOR UPDATE SKIP
LOCKED`` so idle workers do not queue behind each other. Times are the server's clock
(``clock_timestamp()``), so the machines' clocks need not agree. Changes that give workers
something to do ``NOTIFY`` the schema's channel (``blazen_channel()``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from blazen.status import RunStatus
from blazen.stores._batch import EncodedBatch
from blazen.stores._coord import Claim, Grab, Grabbed
from blazen.stores._pg_ops import RECORD_COLUMNS, WRITE, write
from blazen.stores._pg_reads import find_run
from blazen.stores._rows import event_from_row, record_from_row
from blazen.stores.base import PendingEvent, Renewal, RunRecord

__all__ = [
    "Listener",
    "acquire",
    "acquire_next",
    "channel",
    "end_lease",
    "flag_cancel",
    "holders",
    "inbox",
    "post",
    "renew",
    "requeue",
    "write_args",
]

_NOW = "extract(epoch FROM clock_timestamp())"


def _free(dead: str) -> str:
    """The run has no live lease (``dead``: the parameter holding owners known dead)."""
    return f"(owner IS NULL OR lease_until IS NULL OR lease_until <= {_NOW} OR owner = ANY({dead}))"


def _posted(run: str) -> str:
    """``events e`` holds an unconsumed posted answer of the run aliased ``run``."""
    return (
        f"e.rid = {run}.rid AND e.target_step IS NULL AND e.source_step = '<input>'"
        " AND e.consumed_seq IS NULL"
    )


_FREE = _free("$4")
_POSTED = _posted("r")
_TAKE = (
    f"owner = $2, epoch = epoch + 1, lease_until = {_NOW} + $3,"
    " status = CASE status WHEN 'queued' THEN 'running' ELSE status END"
)
_ACQUIRE = (
    f"UPDATE runs SET {_TAKE} WHERE run_id = $1 AND status = ANY($5::text[]) AND {_FREE}"
    f" RETURNING {RECORD_COLUMNS}"
)
_NEEDS_WORKER = (
    f"((status = 'queued' AND {_FREE})"
    f" OR (status IN ('running', 'waiting') AND owner IS NOT NULL AND {_FREE})"
    " OR (status = 'running' AND owner IS NULL))"
)
_ACQUIRE_NEXT = (
    f"UPDATE runs SET {_TAKE} WHERE rid = (SELECT rid FROM runs"
    " WHERE status IN ('queued', 'running', 'waiting') AND workflow_name = ANY($1::text[])"
    f" AND {_NEEDS_WORKER} ORDER BY status = 'queued', rid LIMIT 1 FOR UPDATE SKIP LOCKED)"
    f" RETURNING {RECORD_COLUMNS}"
)
_LEASES = (
    f"SELECT min(lease_until) - {_NOW}, array_agg(DISTINCT owner) FROM runs"
    " WHERE status IN ('queued', 'running', 'waiting') AND workflow_name = ANY($1::text[])"
    " AND owner IS NOT NULL AND lease_until IS NOT NULL"
)
_HOLDERS = (
    "SELECT DISTINCT owner FROM runs WHERE status IN ('queued', 'running', 'waiting')"
    " AND workflow_name = ANY($1::text[]) AND owner IS NOT NULL"
    f" AND left(owner, length($2)) = $2 AND lease_until > {_NOW}"
)
_RENEW = (
    "WITH h AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
    " AS h(run_id, owner, epoch)),"
    f" u AS (UPDATE runs r SET lease_until = {_NOW} + $4 FROM h"
    " WHERE r.run_id = h.run_id AND r.owner = h.owner AND r.epoch = h.epoch"
    " RETURNING r.rid, r.run_id, r.cancel_requested)"
    f" SELECT u.run_id, u.cancel_requested, EXISTS (SELECT 1 FROM events e WHERE {_posted('u')})"
    " FROM u"
)
_END_LEASE = (
    "WITH u AS (UPDATE runs r SET owner = NULL, lease_until = NULL, status = CASE"
    " WHEN r.status NOT IN ('completed', 'failed', 'cancelled') AND ($4 OR (r.status = 'waiting'"
    f" AND EXISTS (SELECT 1 FROM events e WHERE {_POSTED}))) THEN 'queued' ELSE r.status END"
    " WHERE r.run_id = $1 AND r.owner = $2 AND r.epoch = $3 RETURNING r.status)"
    " SELECT u.status, CASE WHEN u.status = 'queued'"
    " THEN pg_notify(blazen_channel(), 'queued:' || $1) END FROM u"
)
_FLAG_CANCEL = (
    "WITH u AS (UPDATE runs SET cancel_requested = true WHERE run_id = $1"
    f" AND status NOT IN ('completed', 'failed', 'cancelled') RETURNING {RECORD_COLUMNS})"
    " SELECT u.*, pg_notify(blazen_channel(), 'cancel:' || $1) FROM u"
)
_REQUEUE = (
    "WITH u AS (UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL"
    f" WHERE run_id = $1 AND status = ANY($3::text[]) AND {_free('$2')}"
    f" RETURNING {RECORD_COLUMNS}) SELECT u.*, pg_notify(blazen_channel(), 'queued:' || $1) FROM u"
)
_INBOX = (
    "SELECT e.event_id, e.event_type, e.data, e.source_step, e.target_step FROM events e"
    f" JOIN runs r ON r.run_id = $1 WHERE {_POSTED} ORDER BY e.seq, e.idx"
)


def channel(schema: str) -> str:
    """The schema's notification channel (``blazen_channel()`` on the server)."""
    return ("bz_" + schema)[:63]


def write_args(mode: str, epoch: int | None, lease: float, batch: EncodedBatch) -> tuple[Any, ...]:
    """The first arguments of ``blazen_write``: mode, epoch, lease, attempts and errors."""
    commits = batch.commits
    if all(c.attempt == 1 and c.attempt_error is None for c in commits):
        return mode, epoch, lease, None, None
    return mode, epoch, lease, [c.attempt for c in commits], [c.attempt_error for c in commits]


async def _classify(conn: Any, run_id: str) -> RunRecord | None:
    found = await find_run(conn, run_id)
    return None if found is None else found[1]


def _grabbed(record: RunRecord | None, statuses: frozenset[RunStatus]) -> Grabbed | None:
    """Why a claim's ``UPDATE`` matched nothing (``None``: the run is free now, try again)."""
    if record is None:
        return Grabbed(Grab.UNKNOWN)
    if record.status not in statuses:
        return Grabbed(Grab.STATUS, record)
    return Grabbed(Grab.HELD, record)


async def acquire(conn: Any, claim: Claim) -> Grabbed:
    """Claim the run if its status allows it and no live lease holds it."""
    c = claim
    row = await conn.fetchrow(
        _ACQUIRE, c.run_id, c.owner, c.lease, list(c.dead), sorted(c.statuses)
    )
    if row is not None:
        return Grabbed(Grab.OK, record_from_row(row))
    got = _grabbed(await _classify(conn, c.run_id), c.statuses)
    return got if got is not None else Grabbed(Grab.HELD)


async def acquire_next(
    conn: Any, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
) -> tuple[RunRecord | None, float | None, list[str]]:
    """Claim the oldest run that needs a worker, or say when a lease ends and whose."""
    row = await conn.fetchrow(_ACQUIRE_NEXT, list(workflows), owner, lease, list(dead))
    if row is not None:
        return record_from_row(row), None, []
    left, owners = await conn.fetchrow(_LEASES, list(workflows))
    return None, None if left is None else float(left), list(owners or ())


async def holders(conn: Any, workflows: Sequence[str], host: str) -> list[str]:
    """The owners (ids starting with ``host``) of live leases on these workflows' runs."""
    return [row[0] for row in await conn.fetch(_HOLDERS, list(workflows), host)]


async def renew(conn: Any, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
    """Extend the leases still held; report lost ones, cancel requests and posted answers."""
    ids = list(held)
    rows = await conn.fetch(
        _RENEW, ids, [held[i][0] for i in ids], [held[i][1] for i in ids], lease
    )
    kept = {row[0] for row in rows}
    return Renewal(
        frozenset(set(ids) - kept),
        frozenset(row[0] for row in rows if row[1]),
        frozenset(row[0] for row in rows if row[2]),
    )


async def end_lease(conn: Any, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
    """End the lease if still held."""
    return await conn.fetchrow(_END_LEASE, run_id, owner, epoch, requeue) is not None


async def post(conn: Any, schema: str, run_id: str, batch: EncodedBatch) -> Grab:
    """Append posted events whoever owns the run (``blazen_write`` in ``post`` mode)."""
    head = (False, run_id, None, None, None, None, None)
    try:
        await write(conn, schema, head, batch, WRITE, write_args("post", None, 0.0, batch))
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == "BZ006":
            return Grab.STATUS
        if exc.sqlstate == "BZ001":
            return Grab.UNKNOWN
        raise
    return Grab.OK


async def flag_cancel(conn: Any, run_id: str) -> Grabbed:
    """Ask the owner of an unfinished run to cancel it."""
    row = await conn.fetchrow(_FLAG_CANCEL, run_id)
    if row is not None:
        return Grabbed(Grab.OK, record_from_row(tuple(row)[:-1]))
    record = await _classify(conn, run_id)
    return Grabbed(Grab.UNKNOWN) if record is None else Grabbed(Grab.STATUS, record)


async def requeue(
    conn: Any, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
) -> Grabbed:
    """Make a run that nobody holds ``queued``."""
    row = await conn.fetchrow(_REQUEUE, run_id, list(dead), sorted(statuses))
    if row is not None:
        return Grabbed(Grab.OK, record_from_row(tuple(row)[:-1]))
    got = _grabbed(await _classify(conn, run_id), statuses)
    return got if got is not None else Grabbed(Grab.HELD)


async def inbox(conn: Any, run_id: str) -> list[PendingEvent] | None:
    """The run's unconsumed posted events, or ``None`` for an unknown run."""
    if await find_run(conn, run_id) is None:
        return None
    return [event_from_row(*row) for row in await conn.fetch(_INBOX, run_id)]


class Listener:
    """A ``Subscription``: one connection that ``LISTEN``s to the schema's channel.

    It connects on the first ``wait``; when the connection fails, waits sleep their timeout
    (and the next one reconnects), so a waiter degrades to polling instead of failing.
    """

    def __init__(self, dsn: str, settings: dict[str, str], name: str) -> None:
        self._dsn, self._settings, self._channel = dsn, settings, name
        self._conn: Any = None
        self._flag: asyncio.Event | None = None

    def _poke(self, *_: Any) -> None:
        if self._flag is not None:
            self._flag.set()

    async def _connect(self) -> None:
        self._flag = asyncio.Event()
        try:
            conn = await asyncpg.connect(self._dsn, server_settings=self._settings, timeout=10)
            await conn.add_listener(self._channel, self._poke)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError):
            return
        self._conn = conn

    async def wait(self, timeout: float) -> bool:
        """Return on a notification (``True``) or after ``timeout`` seconds (``False``)."""
        if self._conn is None or self._conn.is_closed():
            await self._connect()
        flag = self._flag
        assert flag is not None
        try:
            await asyncio.wait_for(flag.wait(), max(timeout, 0.0))
        except asyncio.TimeoutError:
            return False
        flag.clear()
        return True

    async def close(self) -> None:
        """Stop listening and close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
