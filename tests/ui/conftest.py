"""Fixtures of the viewer tests: a real SQLite store holding real runs, and HTTP clients on it.

The read-only store is made once per session; tests that change runs get their own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the viewer tests need the ui extra (starlette)")

with warnings.catch_warnings():
    # Starlette releases for Python 3.10 prefer httpx2, which needs 3.11: httpx is fine here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from blazen.stores import open_store
from blazen.ui import create_app

from .flows import make_runs

BASE = "http://127.0.0.1"
MakeClient = Callable[..., TestClient]


@pytest.fixture(scope="session")
def runs_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store file with one completed, one failed and one paused-for-input run."""
    path = tmp_path_factory.mktemp("ui") / "runs.db"
    return path, make_runs(path)


@pytest.fixture
def ids(runs_db: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """Run ids of the session store: ``pipeline``, ``failed``, ``asking``."""
    return runs_db[1]


def _client_factory(path: Path) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        store = open_store(f"sqlite:///{path}")
        app = create_app(store, close_store=True, **options)
        client = TestClient(app, base_url=BASE, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def make_client(runs_db: tuple[Path, dict[str, str]]) -> Iterator[MakeClient]:
    """Clients of viewers (``create_app`` options as keywords) on the session store."""
    yield from _client_factory(runs_db[0])


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """A client of a viewer with the default options (no token, no actions)."""
    return make_client()


@pytest.fixture
def fresh_db(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A store of this test's own (for actions that change runs)."""
    path = tmp_path / "runs.db"
    return path, make_runs(path)


@pytest.fixture
def make_fresh_client(fresh_db: tuple[Path, dict[str, str]]) -> Iterator[MakeClient]:
    """Clients of viewers on this test's own store."""
    yield from _client_factory(fresh_db[0])
