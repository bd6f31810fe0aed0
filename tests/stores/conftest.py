"""The backend matrix of the store contract suite: one ``Backend`` per ``CheckpointStore``.

To add a backend (Postgres, Redis), write an ``async def _name(tmp_path) -> Backend`` opener
and append ``pytest.param("name", marks=pytest.mark.name)`` to ``BACKENDS``; every contract
test then runs against it.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from blazen.stores.base import CheckpointStore
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore


@dataclass
class Backend:
    """How the contract suite opens one backend and looks inside it."""

    name: str
    opener: Callable[[], CheckpointStore]
    blob_counter: Callable[[CheckpointStore], int]
    opened: list[CheckpointStore] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    async def open(self) -> CheckpointStore:
        """A store handle on this backend's data (a new handle where the backend has them)."""
        store = self.opener()
        if store not in self.opened:
            self.opened.append(store)
        return store

    async def aclose(self) -> None:
        """Close every store handle opened, then run the backend's cleanups (drop test data)."""
        for store in self.opened:
            await store.close()
        for cleanup in self.cleanups:
            cleanup()

    async def blob_count(self, store: CheckpointStore) -> int:
        """How many content-addressed large payloads the backend holds."""
        return self.blob_counter(store)


def _memory(tmp_path: Path) -> Backend:
    """One ``MemoryStore``; "reopening" it gives the same object."""
    store = MemoryStore()

    def blobs(s: CheckpointStore) -> int:
        assert isinstance(s, MemoryStore)
        return len(s._blobs)

    return Backend("memory", lambda: store, blobs)


def _sqlite(tmp_path: Path) -> Backend:
    """A fresh SQLite file; each open is a new ``SQLiteStore`` on it."""
    path = tmp_path / "store.db"

    def blobs(s: CheckpointStore) -> int:
        with sqlite3.connect(path) as conn:
            count: int = conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
        conn.close()
        return count

    return Backend("sqlite", lambda: SQLiteStore(path), blobs)


_OPENERS: dict[str, Callable[[Path], Backend]] = {"memory": _memory, "sqlite": _sqlite}
BACKENDS: list[Any] = ["memory", "sqlite"]

# Server backends live in their own modules (``backend_<name>.py`` beside this file), each
# defining ``open_backend(tmp_path) -> Backend``; the opener skips the test with a reason
# when its server is unreachable, and fails instead under ``CI=true``.
for _name in ("postgres", "redis"):
    try:
        _module = importlib.import_module(f"{__package__}.backend_{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__package__}.backend_{_name}":
            raise
        continue
    _OPENERS[_name] = _module.open_backend
    BACKENDS.append(pytest.param(_name, marks=getattr(pytest.mark, _name)))


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn; closes every store the test opened."""
    made = _OPENERS[request.param](tmp_path)
    yield made
    await made.aclose()


@pytest.fixture
async def store(backend: Backend) -> CheckpointStore:
    """An open, empty store of the current backend."""
    return await backend.open()
