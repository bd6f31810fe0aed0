"""Two ways to run ``blazen``: a real subprocess (``python -m blazen.cli``) and in-process.

Both run in the test's ``tmp_path`` with ``$BLAZEN_STORE`` naming the test's store
(``cli_store``): by default the SQLite file ``tmp_path / "blazen.db"`` (``$BLAZEN_STORE``
unset); a test or module marked ``every_backend`` runs once per backend, with a fresh
PostgreSQL schema or Redis key prefix (skipped when the server is absent, failed under
``CI=true``, like the store contract suite).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from blazen.cli.app import app
from blazen.stores import RunRecord, open_store

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
EXAMPLE = REPO / "examples" / "durable_pipeline.py"
FLOWS = Path(__file__).with_name("flows.py")
PIPELINE = f"{EXAMPLE}:workflow"


def flow(name: str) -> str:
    """The TARGET of a workflow in ``tests/cli/flows.py``."""
    return f"{FLOWS}:{name}"


@dataclass(frozen=True)
class CliStore:
    """The store a test's commands use: ``url`` (``None``: ./blazen.db) as the CLI names it."""

    name: str
    url: str | None
    label: str
    tmp_path: Path

    def env(self) -> dict[str, str]:
        """The environment that makes this the default store."""
        return {"BLAZEN_STORE": self.url} if self.url else {}

    def records(self) -> list[RunRecord]:
        """Every run in the store, most recently updated first."""
        return records(self.url or self.tmp_path / "blazen.db")


BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]
every_backend = pytest.mark.parametrize("cli_store", BACKENDS, indirect=True)
"""Run the marked tests once per durable backend (``cli_store`` gives the test's store)."""


def _server_backend(name: str) -> object:
    """The store contract suite's module for a server backend (``tests/stores``)."""
    importlib.import_module("stores.conftest")  # loads the server backends in order
    return importlib.import_module(f"stores.backend_{name}")


@pytest.fixture
def cli_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliStore]:
    """The test's store: SQLite ./blazen.db, or (``every_backend``) each backend in turn."""
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        yield CliStore(name, None, "blazen.db", tmp_path)
        return
    module: Any = _server_backend(name)
    if name == "postgres":
        module.require_server()
        schema = module.new_schema()
        url = module.store_url(schema)
        yield CliStore(name, url, url, tmp_path)
        module.drop_schema(schema)
        return
    server = module.require_redis()
    prefix = module.new_prefix()
    url = f"{server}?prefix={prefix}"
    yield CliStore(name, url, url, tmp_path)
    module.delete_prefix(prefix)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


Blazen = Callable[..., Result]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BLAZEN_STORE", "FORCE_COLOR", "CLICOLOR_FORCE", "PYTHONPATH")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    env["COLUMNS"] = "200"
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def blazen(tmp_path: Path, cli_store: CliStore) -> Blazen:
    """Run ``python -m blazen.cli ARGS`` in ``tmp_path``; returns code, stdout, stderr."""

    def run(*args: Any, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "blazen.cli", *map(str, args)],
            cwd=tmp_path,
            env=env or subprocess_env(**cli_store.env()),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_store: CliStore) -> Blazen:
    """Run the typer app in this process (faster), in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLAZEN_STORE", raising=False)
    for key, value in cli_store.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps stderr apart

    def run(*args: Any, input: str | None = None) -> Result:
        result = runner.invoke(app, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


def records(url: str | Path) -> list[RunRecord]:
    """Every run in the store at ``url`` (or SQLite file), most recently updated first."""

    async def read() -> list[RunRecord]:
        store = open_store(str(url))
        try:
            return await store.list_runs()
        finally:
            await store.close()

    return asyncio.run(read())


def run_id_of(output: str) -> str:
    """The run id printed on the ``run id:`` / ``run id`` line of a ``blazen run``."""
    for line in output.splitlines():
        words = line.split()
        if words[:2] == ["run", "id"] or words[:2] == ["run", "id:"]:
            return words[-1]
    raise AssertionError(f"no run id in output:\n{output}")
