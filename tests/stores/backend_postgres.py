"""The PostgreSQL backend of the contract suite: a fresh schema per test, dropped afterwards.

The server is ``postgresql://postgres@127.0.0.1:5432/test`` unless ``$BLAZEN_TEST_POSTGRES_URL``
names another. When it is unreachable the test is skipped, or failed under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from blazen.stores.base import CheckpointStore

from .conftest import Backend

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
_checked: list[str] = []
"""The reachability check, made once: ``[""]`` when reachable, else ``[reason]``."""


def server_url() -> str:
    """The test server's URL, without a schema."""
    return os.environ.get("BLAZEN_TEST_POSTGRES_URL") or DEFAULT_URL


def store_url(schema: str) -> str:
    """The test server's URL with ``schema`` selected."""
    base = server_url()
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def admin(*queries: str) -> list[Any]:
    """Run queries on a plain connection in a helper thread; the last one's rows."""

    async def run() -> list[Any]:
        import asyncpg

        conn = await asyncpg.connect(server_url(), timeout=5)
        try:
            rows: list[Any] = []
            for query in queries:
                rows = await conn.fetch(query)
            return rows
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def require_server() -> None:
    """Skip (or, with ``CI=true``, fail) the test when the server cannot be reached."""
    if not _checked:
        try:
            admin("SELECT 1")
            _checked.append("")
        except Exception as exc:
            _checked.append(f"PostgreSQL not reachable at {_host()}: {type(exc).__name__}: {exc}")
    if _checked[0] and os.environ.get("CI", "").lower() == "true":
        pytest.fail(_checked[0])
    if _checked[0]:
        pytest.skip(_checked[0])


def _host() -> str:
    """``host:port`` of the test server, for the skip reason."""
    from urllib.parse import urlsplit

    parts = urlsplit(server_url())
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def new_schema() -> str:
    """A fresh, unused schema name."""
    return f"t_{uuid.uuid4().hex[:16]}"


def drop_schema(schema: str) -> None:
    """Drop a test schema and everything in it (errors ignored: best-effort cleanup)."""
    with contextlib.suppress(Exception):
        admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def open_backend(tmp_path: Path) -> Backend:
    """A ``Backend`` on a fresh schema, dropped by ``Backend.aclose`` after the test."""
    require_server()
    from blazen.stores.postgres import PostgresStore

    schema = new_schema()
    url = store_url(schema)

    def blobs(store: CheckpointStore) -> int:
        return int(admin(f'SELECT count(*) FROM "{schema}".blobs')[0][0])

    backend = Backend("postgres", lambda: PostgresStore.from_url(url), blobs)
    # Not a weakref finalizer: one run inside a garbage collection that interrupted a
    # ThreadPoolExecutor.submit deadlocked on the executor's global lock (seen on 3.13).
    backend.cleanups.append(lambda: drop_schema(schema))
    return backend
