"""``PostgresStore``: a ``CheckpointStore`` in a PostgreSQL schema, shared by many machines.

Every ``commit`` (and ``create_run``) is one call of the ``blazen_commit`` server function: one
round trip, one transaction, the run row locked ``FOR UPDATE`` so commits of one run serialize
and a ``claim`` fences the old owner. Large payloads are stored once, reference-counted and
freed by ``delete_run``. Each event loop gets its own asyncpg pool on first use (``PerLoop``);
the schema (``?schema=``, default ``blazen``) is created or migrated by the first one. asyncpg
is imported only here and in the ``_pg_*`` modules; its errors become ``StoreError`` here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from blazen.errors import StoreError
from blazen.stores import _pg_lease as lease_ops
from blazen.stores import _pg_ops as ops
from blazen.stores import _pg_reads as reads
from blazen.stores._base import EventRow, RunHead, StoreBase
from blazen.stores._batch import EncodedBatch
from blazen.stores._coord import Claim, Grab, Grabbed
from blazen.stores._location import public_url
from blazen.stores._loops import PerLoop
from blazen.stores._pg_schema import ensure_schema, quote_ident, valid_schema
from blazen.stores._rows import record_from_row
from blazen.stores.base import (
    CheckpointInfo,
    LoadedRun,
    PendingEvent,
    Renewal,
    RunRecord,
    RunStatus,
    Subscription,
)

__all__ = ["DEFAULT_SCHEMA", "PostgresStore", "split_url"]

DEFAULT_SCHEMA = "blazen"
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


class PostgresStore(StoreBase):
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

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Open ``postgresql://user@host:port/db?schema=NAME`` (also ``postgres://``)."""
        dsn, schema = split_url(url)
        return cls(dsn, schema=schema)

    def __repr__(self) -> str:
        return f"PostgresStore({self.server!r}, schema={self.schema!r})"

    @property
    def location(self) -> str:
        """``postgresql://user@host:port/db?schema=NAME``, without the password."""
        return public_url(self.dsn, ("schema", self.schema))

    # -- pools and the error seam ----------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn asyncpg and socket errors into ``StoreError`` naming the server."""
        try:
            yield
        except _DRIVER_ERRORS as exc:
            if isinstance(exc, asyncpg.PostgresError):
                where = f"PostgreSQL at {self.server} (schema {self.schema!r})"
                raise StoreError(f"{where}: {exc}") from exc
            raise StoreError(f"cannot reach PostgreSQL at {self.server}: {exc}") from exc

    def _settings(self) -> dict[str, str]:
        """The session settings of every connection: the store's schema first."""
        return {"search_path": quote_ident(self.schema), "application_name": "blazen"}

    async def _open(self) -> Any:
        """Create the running loop's pool; the first one checks, creates or migrates the schema."""
        settings = self._settings()
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

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        """A connection of the running loop's pool; driver errors inside become ``StoreError``."""
        pool = await self._pools.get()
        with self._errors():
            async with pool.acquire() as conn:
                yield conn

    # -- the backend's I/O (see StoreBase) -------------------------------------------------

    async def _insert_run(self, head: RunHead, batch: EncodedBatch) -> None:
        run = (head.run_id, head.owner, head.workflow_name, head.status, None, head.metadata)
        prefix = lease_ops.write_args("create", None, head.lease, batch)
        async with self._conn() as conn:
            await ops.write(conn, self.schema, (True, *run), batch, ops.WRITE, prefix)

    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        run = (run_id, owner, None, batch.status, batch.error, None)
        prefix = lease_ops.write_args("commit", epoch, 0.0, batch)
        async with self._conn() as conn:
            return await ops.write(conn, self.schema, (False, *run), batch, ops.WRITE, prefix)

    async def _event_states(self, run_id: str, event_ids: Sequence[str]) -> dict[str, bool]:
        async with self._conn() as conn:
            return await reads.event_states(conn, run_id, event_ids)

    async def _claim(self, run_id: str, owner: str, lease: float) -> RunRecord | None:
        """Set the owner (waiting for an in-flight commit of the run)."""
        sql = (
            "UPDATE runs SET owner = $2, epoch = epoch + 1,"
            " lease_until = extract(epoch FROM clock_timestamp()) + $3"
            f" WHERE run_id = $1 RETURNING {ops.RECORD_COLUMNS}"
        )
        async with self._conn() as conn:
            row = await conn.fetchrow(sql, run_id, owner, lease)
        return None if row is None else record_from_row(row)

    # -- leases, the queue and control (see Coordinated) -----------------------------------

    async def _acquire(self, claim: Claim) -> Grabbed:
        async with self._conn() as conn:
            return await lease_ops.acquire(conn, claim)

    async def _acquire_next(
        self, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
    ) -> tuple[RunRecord | None, float | None, list[str]]:
        async with self._conn() as conn:
            return await lease_ops.acquire_next(conn, owner, workflows, lease, dead)

    async def _holders(self, workflows: Sequence[str], host: str) -> list[str]:
        async with self._conn() as conn:
            return await lease_ops.holders(conn, workflows, host)

    async def _renew(self, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
        async with self._conn() as conn:
            return await lease_ops.renew(conn, held, lease)

    async def _end_lease(self, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
        async with self._conn() as conn:
            return await lease_ops.end_lease(conn, run_id, owner, epoch, requeue)

    async def _post(self, run_id: str, batch: EncodedBatch) -> Grab:
        async with self._conn() as conn:
            return await lease_ops.post(conn, self.schema, run_id, batch)

    async def _flag_cancel(self, run_id: str) -> Grabbed:
        async with self._conn() as conn:
            return await lease_ops.flag_cancel(conn, run_id)

    async def _requeue(
        self, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
    ) -> Grabbed:
        async with self._conn() as conn:
            return await lease_ops.requeue(conn, run_id, dead, statuses)

    async def _inbox(self, run_id: str) -> list[PendingEvent] | None:
        async with self._conn() as conn:
            return await lease_ops.inbox(conn, run_id)

    def subscribe(self) -> Subscription:
        """A ``LISTEN`` on the schema's channel (its own connection, opened on first wait)."""
        return lease_ops.Listener(self.dsn, self._settings(), lease_ops.channel(self.schema))

    async def _load(self, run_id: str, seq: int | None) -> LoadedRun | None:
        async with self._conn() as conn:
            return await reads.load(conn, run_id, seq)

    async def _get(self, run_id: str) -> RunRecord | None:
        async with self._conn() as conn:
            found = await reads.find_run(conn, run_id)
        return None if found is None else found[1]

    async def _list(
        self, workflow_name: str | None, status: RunStatus | None, limit: int
    ) -> list[RunRecord]:
        async with self._conn() as conn:
            return await reads.list_runs(conn, workflow_name, status, limit)

    async def _find(self, id_prefix: str, limit: int) -> list[RunRecord]:
        async with self._conn() as conn:
            return await reads.find_runs(conn, id_prefix, limit)

    async def _checkpoints(self, run_id: str) -> list[CheckpointInfo] | None:
        async with self._conn() as conn:
            return await reads.checkpoints(conn, run_id)

    async def _events(self, run_id: str) -> list[EventRow] | None:
        async with self._conn() as conn:
            return await reads.events(conn, run_id)

    async def _delete(self, run_id: str) -> bool:
        """Delete the run and the blobs no other run references, in one transaction."""
        async with self._conn() as conn:
            return bool(await conn.fetchval(ops.DELETE_RUN, run_id))

    async def _close(self) -> None:
        """Close every loop's pool (waiting for the calls in flight)."""
        await self._pools.close()


def _terminate(pool: Any) -> None:
    """Close a pool whose loop is gone or stopped (no awaiting possible there)."""
    pool.terminate()
