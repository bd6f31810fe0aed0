"""``PostgresStore``: a ``CheckpointStore`` in a PostgreSQL schema, shared by many machines.

Every ``commit`` (and ``create_run``) is one call of the ``blazen_commit`` server function: one
round trip, one transaction, the run row locked ``FOR UPDATE`` so commits of one run serialize
and a ``claim`` fences the old owner. Large payloads are stored once, reference-counted and
freed by ``delete_run``. Each event loop gets its own asyncpg pool on first use (``PerLoop``);
the schema (``?schema=``, default ``blazen``) is created or migrated by the first one. asyncpg
is imported only here, and its errors become ``StoreError`` at this module's seam.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from blazen.errors import StoreConflictError, StoreError
from blazen.stores import _pg_reads as reads
from blazen.stores._codec import pack, start_commit, unknown_run
from blazen.stores._loops import PerLoop
from blazen.stores._pg_ops import COMMIT, DELETE_RUN, KNOWN_BLOBS, RECORD_COLUMNS, PgBatch
from blazen.stores._pg_schema import ensure_schema, quote_ident, valid_schema
from blazen.stores.base import (
    CheckpointInfo,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
)
from blazen.values import StateValue

__all__ = ["DEFAULT_SCHEMA", "PostgresStore", "split_url"]

DEFAULT_SCHEMA = "blazen"
RETRIES = 5
"""Attempts of a write that hit a deadlock, a serialization failure or a freed blob."""
_RETRY_CODES = frozenset({"40001", "40P01", "BZ003"})
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without a reset round trip: the store keeps no session state.

    (asyncpg >= 0.30 asks this method; an open transaction is still rolled back on release.)
    """

    def get_reset_query(self) -> str:
        """No ``RESET ALL``/``UNLISTEN``/``CLOSE ALL``: nothing the store does needs undoing."""
        return ""


def split_url(url: str) -> tuple[str, str]:
    """``(asyncpg DSN, schema)`` from ``postgresql://…?schema=NAME`` (also ``postgres://``)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgres", "postgresql"):
        raise StoreError(f"not a PostgreSQL store URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment))
    return dsn, valid_schema(schemas[-1] if schemas else DEFAULT_SCHEMA)


def _server(dsn: str) -> str:
    """``host:port`` of a DSN, for error messages (no credentials)."""
    parts = urlsplit(dsn)
    try:
        port = parts.port or 5432
    except ValueError as exc:
        raise StoreError(f"bad port in PostgreSQL URL: {exc}") from exc
    return f"{parts.hostname or 'localhost'}:{port}"


class PostgresStore:
    """A ``CheckpointStore`` in one PostgreSQL schema, safe to share between machines.

    Nothing connects until the first awaited call. Each event loop that uses the store gets
    its own asyncpg pool (``min_size``/``max_size``), closed when that loop shuts down or by
    ``close()``; the schema is checked, created or migrated by the first pool.
    """

    def __init__(
        self, dsn: str, *, schema: str = DEFAULT_SCHEMA, min_size: int = 1, max_size: int = 10
    ) -> None:
        self.dsn = dsn
        self.schema = valid_schema(schema)
        self.server = _server(dsn)
        self._sizes = (min_size, max_size)
        self._pools: PerLoop[Any] = PerLoop(self._open, self._close_pool, _terminate)
        self._checked = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Open ``postgresql://user@host:port/db?schema=NAME`` (also ``postgres://``)."""
        dsn, schema = split_url(url)
        return cls(dsn, schema=schema)

    def __repr__(self) -> str:
        return f"PostgresStore({self.server!r}, schema={self.schema!r})"

    # -- the pool and the error seam -------------------------------------------------------

    @contextmanager
    def _errors(self, run_id: str | None = None) -> Iterator[None]:
        """Turn asyncpg and socket errors into ``StoreError`` (or its conflict subclass)."""
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise self._translate(exc, run_id) from exc

    def _translate(self, exc: BaseException, run_id: str | None) -> StoreError:
        """The ``StoreError`` for one driver error."""
        if not isinstance(exc, asyncpg.PostgresError):
            return StoreError(f"cannot reach PostgreSQL at {self.server}: {exc}")
        code, message = exc.sqlstate, exc.args[0] if exc.args else str(exc)
        if code == "BZ001" and run_id is not None:
            return unknown_run(run_id)
        if code == "BZ002":
            return StoreConflictError(message)
        if code in ("BZ001", "BZ003", "BZ004"):
            return StoreError(message)
        if code == "23505" and getattr(exc, "constraint_name", "") == "events_unique_id":
            return StoreError(
                f"run {run_id!r}: cannot store the emitted events ({exc}); event ids must be new"
            )
        return StoreError(f"PostgreSQL at {self.server} (schema {self.schema!r}): {exc}")

    async def _open(self) -> Any:
        """Create the running loop's pool; the first one checks, creates or migrates the schema."""
        settings = {"search_path": quote_ident(self.schema), "application_name": "blazen"}
        min_size, max_size = self._sizes
        with self._errors():
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=min_size,
                max_size=max_size,
                server_settings=settings,
                connection_class=_Connection,
            )
        if self._checked:
            return pool
        try:
            with self._errors():
                async with pool.acquire() as conn:
                    await ensure_schema(conn, self.schema)
        except BaseException:
            pool.terminate()
            raise
        self._checked = True
        return pool

    async def _close_pool(self, pool: Any) -> None:
        """Close a pool in its own loop, waiting for the calls in flight."""
        with self._errors():
            await pool.close()

    async def _get_pool(self) -> Any:
        """The running loop's pool, created on first use there."""
        if self._closed:
            raise StoreError(f"the PostgreSQL store {self!r} is closed")
        return await self._pools.get()

    @asynccontextmanager
    async def _conn(self, run_id: str | None = None) -> AsyncIterator[Any]:
        """A pooled connection; driver errors inside become ``StoreError``."""
        pool = await self._get_pool()
        with self._errors(run_id):
            async with pool.acquire() as conn:
                yield conn

    async def _write(self, head: tuple[Any, ...], batch: PgBatch, run_id: str) -> int:
        """Call ``blazen_commit``; send large payloads only when the server lacks them."""
        async with self._conn(run_id) as conn:
            known: set[bytes] = set()
            if batch.blobs:
                known = {row[0] for row in await conn.fetch(KNOWN_BLOBS, list(batch.blobs))}
            attempt = 1
            while True:
                try:
                    return int(await conn.fetchval(COMMIT, *head, *batch.arrays(known)))
                except asyncpg.PostgresError as exc:
                    if attempt >= RETRIES or exc.sqlstate not in _RETRY_CODES:
                        raise
                    attempt += 1
                    known = set()

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
        batch = PgBatch([start])
        head = (True, run_id, owner, workflow_name, status, None, pack(dict(metadata)))
        await self._write(head, batch, run_id)

    async def commit(self, run_id: str, commits: Sequence[Commit], *, owner: str) -> int:
        """Apply ``commits`` in order, in one transaction; return the last seq."""
        batch = PgBatch(commits)
        head = (False, run_id, owner, None, batch.status, batch.error, None)
        return await self._write(head, batch, run_id)

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner (waits for an in-flight commit of the run)."""
        sql = f"UPDATE runs SET owner = $2 WHERE run_id = $1 RETURNING {RECORD_COLUMNS}"
        async with self._conn(run_id) as conn:
            row = await conn.fetchrow(sql, run_id, owner)
        if row is None:
            raise unknown_run(run_id)
        return reads.record_from_row(row)

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        async with self._conn(run_id) as conn:
            return await reads.load(conn, run_id, seq)

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        async with self._conn(run_id) as conn:
            return (await reads.find_run(conn, run_id))[1]

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, most recently updated first."""
        async with self._conn() as conn:
            return await reads.list_runs(conn, workflow_name, status, limit)

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        async with self._conn(run_id) as conn:
            return await reads.checkpoints(conn, run_id)

    async def events(self, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        async with self._conn(run_id) as conn:
            return await reads.events(conn, run_id)

    async def delete_run(self, run_id: str) -> None:
        """Delete the run and the blobs no other run references, in one transaction."""
        async with self._conn(run_id) as conn:
            found = await conn.fetchval(DELETE_RUN, run_id)
        if not found:
            raise unknown_run(run_id)

    async def close(self) -> None:
        """Close every loop's pool (waiting for calls in flight); later calls raise StoreError."""
        if self._closed:
            return
        self._closed = True
        await self._pools.close()


def _terminate(pool: Any) -> None:
    """Close a pool whose loop is gone or stopped (no awaiting possible there)."""
    pool.terminate()
