"""The SQLite store's lease, queue and control operations (blocking, on the store's thread).

Each one is a single ``BEGIN IMMEDIATE`` transaction, so a claim is atomic across every
process sharing the file: the first writer wins and the others see its result. Times are
this machine's clock (one file is used by one machine).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence

from blazen.status import FINISHED, RunStatus
from blazen.stores._batch import EncodedBatch
from blazen.stores._codec import Clock
from blazen.stores._coord import Claim, Grab, Grabbed
from blazen.stores._rows import event_from_row, record_from_row
from blazen.stores._sqlite_file import read_txn, write_txn
from blazen.stores._sqlite_ops import RECORD_COLUMNS, append_in_txn, find_run
from blazen.stores.base import PendingEvent, Renewal, RunRecord

__all__ = [
    "acquire",
    "acquire_next",
    "end_lease",
    "flag_cancel",
    "holders",
    "inbox",
    "post",
    "renew",
    "requeue",
]

_TAKE = (
    "UPDATE runs SET owner = ?, epoch = epoch + 1, lease_until = ?,"
    " status = CASE status WHEN 'queued' THEN 'running' ELSE status END WHERE rid = ?"
)
# Posted answers: emitted by "<input>" for no target step (routed by whoever continues the run).
_IS_POSTED = "target_step IS NULL AND source_step = '<input>' AND consumed_seq IS NULL"
_POSTED = f"SELECT 1 FROM events WHERE rid = ? AND {_IS_POSTED} LIMIT 1"
_INBOX = (
    "SELECT event_id, event_type, data, source_step, target_step FROM events"
    f" WHERE rid = ? AND {_IS_POSTED} ORDER BY seq, idx"
)


def _free(record: RunRecord, now: float, dead: Sequence[str]) -> bool:
    """Whether no live lease holds the run."""
    return (
        record.owner is None
        or record.lease_until is None
        or record.lease_until <= now
        or record.owner in dead
    )


def _take(conn: sqlite3.Connection, rid: int, run_id: str, owner: str, lease: float) -> RunRecord:
    """Claim the run (inside the caller's transaction); its new record."""
    conn.execute(_TAKE, (owner, time.time() + lease, rid))
    found = find_run(conn, run_id)
    assert found is not None
    return found[1]


def acquire(conn: sqlite3.Connection, claim: Claim) -> Grabbed:
    """Claim the run if its status allows it and no live lease holds it."""
    with write_txn(conn):
        found = find_run(conn, claim.run_id)
        if found is None:
            return Grabbed(Grab.UNKNOWN)
        rid, record = found
        if record.status not in claim.statuses:
            return Grabbed(Grab.STATUS, record)
        if not _free(record, time.time(), claim.dead):
            return Grabbed(Grab.HELD, record)
        return Grabbed(Grab.OK, _take(conn, rid, claim.run_id, claim.owner, claim.lease))


def acquire_next(
    conn: sqlite3.Connection,
    owner: str,
    workflows: Sequence[str],
    lease: float,
    dead: Sequence[str],
) -> tuple[RunRecord | None, float | None, list[str]]:
    """Claim the oldest run that needs a worker, or say when a lease ends and whose."""
    names = ", ".join("?" * len(workflows))
    gone = ", ".join("?" * len(dead)) or "NULL"
    free = f"(owner IS NULL OR lease_until IS NULL OR lease_until <= ? OR owner IN ({gone}))"
    query = (
        f"SELECT rid, {RECORD_COLUMNS} FROM runs WHERE workflow_name IN ({names})"
        f" AND ((status = 'queued' AND {free})"
        f" OR (status IN ('running', 'waiting') AND owner IS NOT NULL AND {free})"
        " OR (status = 'running' AND owner IS NULL))"
        " ORDER BY status = 'queued', rid LIMIT 1"
    )
    leases = (
        "SELECT min(lease_until), group_concat(owner, char(0)) FROM runs"
        f" WHERE workflow_name IN ({names}) AND status IN ('queued', 'running', 'waiting')"
        " AND owner IS NOT NULL AND lease_until IS NOT NULL"
    )
    with write_txn(conn):
        now = time.time()
        params = (*workflows, now, *dead, now, *dead)
        row = conn.execute(query, params).fetchone()
        if row is not None:
            rid, record = row[0], record_from_row(row[1:])
            return _take(conn, rid, record.run_id, owner, lease), None, []
        first, owners = conn.execute(leases, tuple(workflows)).fetchone()
    holders = [] if owners is None else owners.split("\0")
    return None, None if first is None else first - now, holders


def holders(conn: sqlite3.Connection, workflows: Sequence[str], host: str) -> list[str]:
    """The owners (ids starting with ``host``) of live leases on these workflows' runs."""
    marks = ", ".join("?" * len(workflows))
    query = (
        f"SELECT DISTINCT owner FROM runs WHERE workflow_name IN ({marks})"
        " AND status IN ('queued', 'running', 'waiting') AND owner IS NOT NULL"
        " AND substr(owner, 1, ?) = ? AND lease_until > ?"
    )
    with read_txn(conn):
        rows = conn.execute(query, (*workflows, len(host), host, time.time())).fetchall()
    return [row[0] for row in rows]


def renew(conn: sqlite3.Connection, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
    """Extend the leases still held; report lost ones, cancel requests and posted answers."""
    lost, cancel, inbox_ids = set(), set(), set()
    with write_txn(conn):
        until = time.time() + lease
        for run_id, (owner, epoch) in held.items():
            row = conn.execute(
                "SELECT rid, owner, epoch, cancel_requested FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None or row[1] != owner or row[2] != epoch:
                lost.add(run_id)
                continue
            conn.execute("UPDATE runs SET lease_until = ? WHERE rid = ?", (until, row[0]))
            if row[3]:
                cancel.add(run_id)
            if conn.execute(_POSTED, (row[0],)).fetchone() is not None:
                inbox_ids.add(run_id)
    return Renewal(frozenset(lost), frozenset(cancel), frozenset(inbox_ids))


def end_lease(
    conn: sqlite3.Connection, run_id: str, owner: str, epoch: int, requeue: bool
) -> tuple[bool, bool]:
    """End the lease if still held: ``(ended, queued)``."""
    with write_txn(conn):
        row = conn.execute(
            "SELECT rid, owner, epoch, status FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None or row[1] != owner or row[2] != epoch:
            return False, False
        rid, status = row[0], row[3]
        queued = status not in FINISHED and (
            requeue
            or (status == "waiting" and conn.execute(_POSTED, (rid,)).fetchone() is not None)
        )
        conn.execute(
            "UPDATE runs SET owner = NULL, lease_until = NULL,"
            " status = CASE WHEN ? THEN 'queued' ELSE status END WHERE rid = ?",
            (queued, rid),
        )
    return True, queued


def post(conn: sqlite3.Connection, clock: Clock, run_id: str, batch: EncodedBatch) -> Grab:
    """Append posted events whoever owns the run; a waiting run nobody holds is queued."""
    with write_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return Grab.UNKNOWN
        rid, record = found
        if record.status in FINISHED:
            return Grab.STATUS
        append_in_txn(conn, clock, run_id, None, None, batch)
        if record.status == "waiting" and _free(record, time.time(), ()):
            conn.execute(
                "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL WHERE rid = ?",
                (rid,),
            )
    return Grab.OK


def flag_cancel(conn: sqlite3.Connection, run_id: str) -> Grabbed:
    """Ask the owner of an unfinished run to cancel it."""
    with write_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return Grabbed(Grab.UNKNOWN)
        rid, record = found
        if record.status in FINISHED:
            return Grabbed(Grab.STATUS, record)
        conn.execute("UPDATE runs SET cancel_requested = 1 WHERE rid = ?", (rid,))
    return Grabbed(Grab.OK, record)


def requeue(
    conn: sqlite3.Connection, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
) -> Grabbed:
    """Make a run that nobody holds ``queued``."""
    with write_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return Grabbed(Grab.UNKNOWN)
        rid, record = found
        if record.status not in statuses:
            return Grabbed(Grab.STATUS, record)
        if not _free(record, time.time(), dead):
            return Grabbed(Grab.HELD, record)
        conn.execute(
            "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL WHERE rid = ?",
            (rid,),
        )
    return Grabbed(Grab.OK, record)


def inbox(conn: sqlite3.Connection, run_id: str) -> list[PendingEvent] | None:
    """The run's unconsumed posted events, or ``None`` for an unknown run."""
    with read_txn(conn):
        found = find_run(conn, run_id)
        if found is None:
            return None
        return [event_from_row(*row) for row in conn.execute(_INBOX, (found[0],))]
