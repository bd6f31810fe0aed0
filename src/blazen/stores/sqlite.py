"""``SQLiteStore``: the embedded default store, one SQLite file shared safely by many processes.

The file is in WAL mode; every write is one ``BEGIN IMMEDIATE`` transaction with a 30 s busy
timeout, so concurrent processes queue instead of failing with "database is locked". Each store
object owns one connection on its own worker thread: no sqlite3 call ever runs on the event
loop, whose coroutines just await the thread's results. The schema is in ``_sql/sqlite/``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from blazen.errors import StoreError
from blazen.stores import _sqlite_lease as lease_ops
from blazen.stores import _sqlite_ops as ops
from blazen.stores import _sqlite_reads as reads
from blazen.stores._base import EventRow, RunHead, StoreBase
from blazen.stores._batch import EncodedBatch
from blazen.stores._codec import Clock
from blazen.stores._coord import Claim, Grab, Grabbed, PollingSubscription
from blazen.stores._errors import closed
from blazen.stores._sqlite_file import BUSY_TIMEOUT_S, connect
from blazen.stores.base import (
    CheckpointInfo,
    LoadedRun,
    PendingEvent,
    Renewal,
    RunRecord,
    RunStatus,
    Subscription,
)

__all__ = ["SQLiteStore", "sqlite_path"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


def sqlite_path(url: str | os.PathLike[str]) -> str:
    """The file path in ``sqlite:///rel.db``, ``sqlite:////abs.db`` or a bare path."""
    text = os.fspath(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return os.path.expanduser(text)
    if scheme.lower() != "sqlite":
        raise StoreError(f"not an SQLite store URL: {text!r}")
    path = rest[1:] if rest.startswith("/") else rest
    if not path:
        raise StoreError(f"no file path in SQLite store URL {text!r}")
    return os.path.expanduser(path)


class SQLiteStore(StoreBase):
    """A ``CheckpointStore`` in one SQLite file (WAL mode), safe to share between processes.

    The file is opened on the store's worker thread as soon as the object is built. Built
    outside a running event loop, the constructor waits and raises ``StoreError`` at once for
    a file that is not a blazen store; inside a loop it never blocks, and the first awaited
    call raises instead.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._clock = Clock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blazen-sqlite")
        self._opened: Future[None] = self._executor.submit(self._open, busy_timeout)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._opened.result()

    @classmethod
    def from_url(cls, url: str | os.PathLike[str]) -> SQLiteStore:
        """Open the file named by ``sqlite:///relative.db``, ``sqlite:////abs.db`` or a path."""
        return cls(sqlite_path(url))

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    @property
    def location(self) -> str:
        """The file's path, as given."""
        return self.path

    # -- the worker thread -----------------------------------------------------------------

    def _open(self, busy_timeout: float) -> None:
        """Connect on the worker thread (the connection never leaves it)."""
        try:
            self._conn = connect(self.path, busy_timeout)
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            self._executor.shutdown(wait=False)
            raise StoreError(f"cannot open {self.path!r} as a blazen store: {_why(exc)}") from exc
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def _run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Call ``fn(conn, ...)`` on the worker thread, mapping sqlite3 errors to StoreError."""
        conn = self._conn
        if conn is None:
            self._opened.result()
            raise closed(self)
        try:
            return fn(conn, *args, **kwargs)
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise StoreError(f"SQLite store {self.path!r}: {_why(exc)}") from exc

    async def _call(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Await ``fn(conn, ...)`` run on the worker thread (never on the event loop)."""
        try:
            future = self._executor.submit(functools.partial(self._run, fn, *args, **kwargs))
        except RuntimeError:
            self._opened.result()
            raise closed(self) from None
        return await asyncio.wrap_future(future)

    # -- the backend's I/O (see StoreBase) -------------------------------------------------

    async def _insert_run(self, head: RunHead, batch: EncodedBatch) -> None:
        await self._call(ops.insert_run, self._clock, head, batch)

    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        return await self._call(ops.append, self._clock, run_id, owner, epoch, batch)

    async def _event_states(self, run_id: str, event_ids: Sequence[str]) -> dict[str, bool]:
        return await self._call(ops.event_states, run_id, event_ids)

    async def _claim(self, run_id: str, owner: str, lease: float) -> RunRecord | None:
        return await self._call(ops.claim, run_id, owner, lease)

    # -- leases, the queue and control (see Coordinated) -----------------------------------

    async def _acquire(self, claim: Claim) -> Grabbed:
        return await self._call(lease_ops.acquire, claim)

    async def _acquire_next(
        self, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
    ) -> tuple[RunRecord | None, float | None, list[str]]:
        return await self._call(lease_ops.acquire_next, owner, workflows, lease, dead)

    async def _holders(self, workflows: Sequence[str], host: str) -> list[str]:
        return await self._call(lease_ops.holders, workflows, host)

    async def _renew(self, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
        return await self._call(lease_ops.renew, held, lease)

    async def _end_lease(self, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
        ended, _ = await self._call(lease_ops.end_lease, run_id, owner, epoch, requeue)
        return ended

    async def _post(self, run_id: str, batch: EncodedBatch) -> Grab:
        return await self._call(lease_ops.post, self._clock, run_id, batch)

    async def _flag_cancel(self, run_id: str) -> Grabbed:
        return await self._call(lease_ops.flag_cancel, run_id)

    async def _requeue(
        self, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
    ) -> Grabbed:
        return await self._call(lease_ops.requeue, run_id, dead, statuses)

    async def _inbox(self, run_id: str) -> list[PendingEvent] | None:
        return await self._call(lease_ops.inbox, run_id)

    def subscribe(self) -> Subscription:
        """SQLite has no notifications: waiters poll (the worker backs off while idle)."""
        return PollingSubscription()

    async def _delete(self, run_id: str) -> bool:
        return await self._call(ops.delete_run, run_id)

    async def _load(self, run_id: str, seq: int | None) -> LoadedRun | None:
        return await self._call(reads.load, run_id, seq)

    async def _get(self, run_id: str) -> RunRecord | None:
        return await self._call(reads.get_run, run_id)

    async def _list(
        self, workflow_name: str | None, status: RunStatus | None, limit: int
    ) -> list[RunRecord]:
        return await self._call(reads.list_runs, workflow_name, status, limit)

    async def _find(self, id_prefix: str, limit: int) -> list[RunRecord]:
        return await self._call(reads.find_runs, id_prefix, limit)

    async def _checkpoints(self, run_id: str) -> list[CheckpointInfo] | None:
        return await self._call(reads.checkpoints, run_id)

    async def _events(self, run_id: str) -> list[EventRow] | None:
        return await self._call(reads.events, run_id)

    async def _close(self) -> None:
        """Close the connection (checkpointing the WAL) and let the worker thread exit."""
        try:
            future = self._executor.submit(self._close_connection)
        except RuntimeError:
            return
        self._executor.shutdown(wait=False)
        await asyncio.wrap_future(future)

    def _close_connection(self) -> None:
        """Close the connection on the thread that owns it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _why(exc: sqlite3.Error | UnicodeDecodeError) -> str:
    """What went wrong: a text column that is not UTF-8 can only be a corrupted file."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the file is corrupt (text that is not UTF-8: {exc})"
    if not str(exc) and isinstance(exc, sqlite3.DatabaseError):
        # Python 3.10's sqlite3 drops an error message it cannot decode: the same corruption.
        return "the file is corrupt (SQLite's error text is not UTF-8)"
    return str(exc)
