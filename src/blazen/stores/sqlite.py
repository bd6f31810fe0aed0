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
from typing import Any, Concatenate, ParamSpec, TypeVar

from blazen.errors import StoreError
from blazen.stores import _sqlite_ops as ops
from blazen.stores import _sqlite_reads as reads
from blazen.stores._codec import Clock, start_commit
from blazen.stores._sqlite_file import BUSY_TIMEOUT_S, connect
from blazen.stores.base import (
    CheckpointInfo,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
)
from blazen.values import StateValue

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


class SQLiteStore:
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
        self._closed = False
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
            raise StoreError(f"the SQLite store {self.path!r} is closed")
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
        if self._closed:
            raise StoreError(f"the SQLite store {self.path!r} is closed")
        try:
            future = self._executor.submit(functools.partial(self._run, fn, *args, **kwargs))
        except RuntimeError:
            self._opened.result()
            raise StoreError(f"the SQLite store {self.path!r} is closed") from None
        return await asyncio.wrap_future(future)

    # -- the CheckpointStore protocol ------------------------------------------------------

    async def create_run(
        self,
        run_id: str,
        workflow_name: str,
        *,
        owner: str,
        context_state: Mapping[str, StateValue],
        pending: Sequence[PendingEvent],
        collected: Mapping[str, list[Any]],
        metadata: Mapping[str, Any],
        status: RunStatus = "running",
    ) -> None:
        """Write commit 0 of a new run; ``StoreConflictError`` if the id exists."""
        start = start_commit(pending, context_state, collected)
        head = (run_id, workflow_name, status, owner)
        await self._call(ops.create_run, self._clock, head, metadata, start)

    async def commit(self, run_id: str, commits: Sequence[Commit], *, owner: str) -> int:
        """Apply ``commits`` in order, in one transaction; return the last seq."""
        return await self._call(ops.commit, self._clock, run_id, commits, owner)

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner (a later commit by the old owner fails)."""
        return await self._call(ops.claim, run_id, owner)

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        return await self._call(reads.load, run_id, seq)

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        return await self._call(reads.get_run, run_id)

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, most recently updated first."""
        return await self._call(reads.list_runs, workflow_name, status, limit)

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        return await self._call(reads.checkpoints, run_id)

    async def events(self, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        return await self._call(reads.events, run_id)

    async def delete_run(self, run_id: str) -> None:
        """Delete the run and the blobs no other run references."""
        await self._call(ops.delete_run, run_id)

    async def close(self) -> None:
        """Close the connection (checkpointing the WAL) and let the worker thread exit."""
        if self._closed:
            return
        self._closed = True
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
    return str(exc)
