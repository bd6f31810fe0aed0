"""Two ways to run ``blazen``: a real subprocess (``python -m blazen.cli``) and in-process.

Both run in the test's ``tmp_path`` with ``$BLAZEN_STORE`` unset, so the default store is
``tmp_path / "blazen.db"``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
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
def blazen(tmp_path: Path) -> Blazen:
    """Run ``python -m blazen.cli ARGS`` in ``tmp_path``; returns code, stdout, stderr."""

    def run(*args: Any, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "blazen.cli", *map(str, args)],
            cwd=tmp_path,
            env=env or subprocess_env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Blazen:
    """Run the typer app in this process (faster), in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLAZEN_STORE", raising=False)
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


def records(db: Path) -> list[RunRecord]:
    """Every run in the SQLite store ``db``, most recently updated first."""

    async def read() -> list[RunRecord]:
        store = open_store(str(db))
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
