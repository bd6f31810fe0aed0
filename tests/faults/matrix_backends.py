"""The durable backends of the fault matrix: a fresh store URL per test, removed afterwards.

SQLite is a file under the test's ``tmp_path``; PostgreSQL a fresh schema on
``$BLAZEN_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``); Redis
a fresh key prefix on ``$BLAZEN_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). A
server that does not answer skips its tests, or fails them under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PG_URL = os.environ.get("BLAZEN_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("BLAZEN_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
_unreachable: dict[str, str] = {}  # backend -> why, once found out


def store_url(backend: str, tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """A URL of a fresh, empty store on ``backend`` and the function that removes it."""
    tag = f"t_{uuid.uuid4().hex[:16]}"
    if backend == "sqlite":
        return str(tmp_path / "runs.db"), lambda: None
    if backend == "postgres":
        _require("postgres", _ping_postgres)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}schema={tag}", lambda: _drop_schema(tag)
    if backend == "redis":
        _require("redis", _ping_redis)
        return f"{REDIS_URL}?prefix={tag}", lambda: _delete_prefix(tag)
    raise ValueError(f"unknown backend {backend!r}")


def _require(backend: str, ping: Callable[[], None]) -> None:
    """Skip (fail under ``CI=true``) when the backend's server does not answer."""
    if backend not in _unreachable:
        try:
            ping()
            _unreachable[backend] = ""
        except Exception as exc:
            _unreachable[backend] = f"{backend} server not reachable: {type(exc).__name__}: {exc}"
    why = _unreachable[backend]
    if why and os.environ.get("CI", "").lower() == "true":
        pytest.fail(why)
    if why:
        pytest.skip(why)


def _pg(query: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(query)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:  # callable from inside a running event loop too
        pool.submit(asyncio.run, run()).result()


def _ping_postgres() -> None:
    _pg("SELECT 1")


def _drop_schema(schema: str) -> None:
    with contextlib.suppress(Exception):
        _pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _ping_redis() -> None:
    import redis

    with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
        client.ping()


def _delete_prefix(prefix: str) -> None:
    import redis

    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{{{prefix}}}:*", count=1000))
        if keys:
            client.delete(*keys)
