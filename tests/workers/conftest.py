"""Store URLs for the worker tests: a fresh SQLite file, PostgreSQL schema or Redis prefix.

Subprocess workers need a URL (not a store object); the server backends reuse the store
contract suite's helpers (skipped without a server, failed under ``CI=true``).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from blazen.stores import CheckpointStore, open_store
from blazen.stores.memory import MemoryStore

URL_BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


def make_url(name: str, tmp_path: Path) -> tuple[str, object]:
    """``(store URL, cleanup)`` of a fresh store of backend ``name``."""
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'workers.db'}", lambda: None
    importlib.import_module("stores.conftest")
    if name == "postgres":
        pg = importlib.import_module("stores.backend_postgres")
        pg.require_server()
        schema = pg.new_schema()
        return pg.store_url(schema), lambda: pg.drop_schema(schema)
    rd = importlib.import_module("stores.backend_redis")
    prefix = rd.new_prefix()
    return f"{rd.require_redis()}?prefix={prefix}", lambda: rd.delete_prefix(prefix)


@pytest.fixture(params=URL_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's URL, for each backend a process can share."""
    url, cleanup = make_url(request.param, tmp_path)
    yield url
    cleanup()  # type: ignore[operator]


STORE_BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=STORE_BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CheckpointStore]:
    """A fresh store of each backend (the server ones through the contract suite's openers)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    url, cleanup = make_url(request.param, tmp_path)
    opened = open_store(url)
    yield opened
    await opened.close()
    cleanup()  # type: ignore[operator]
