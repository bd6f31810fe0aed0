"""What the CLI says about the store: its location in the header (never a password), and no
resume hint for an in-memory run, which cannot be resumed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from blazen import Workflow
from blazen.cli._drive import Driver
from blazen.stores import CheckpointStore
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore

from .conftest import PIPELINE, Blazen, CliStore, every_backend, flow, run_id_of, subprocess_env
from .flows import echo

CANNOT = "an in-memory run (memory://) cannot be resumed: it ends with this process"

OWN_STORE = """
import os
from blazen import StartEvent, StopEvent, Workflow, step
from blazen.stores import open_store

@step
async def only(ctx, ev: StartEvent) -> StopEvent:
    if getattr(ev, "fail", False):
        raise ValueError("as asked")
    return StopEvent(result="own store")

wf = Workflow("cli-own-store", [only], store=open_store(os.environ["OWN_STORE"]))
"""


def test_a_failed_in_memory_run_gets_no_resume_hint(cli: Blazen) -> None:
    res = cli("run", flow("failing"), "--store", "memory://")
    assert res.code == 1
    run_id = run_id_of(res.out)
    assert "store   memory://" in res.out
    assert res.err.splitlines() == [
        f"error: run {run_id} failed in step 'explode': ValueError: boom (no reason)",
        f"  {CANNOT} (use a durable store, e.g. --store blazen.db, to continue runs later)",
    ]


def test_a_paused_in_memory_run_gets_no_resume_hint(cli: Blazen) -> None:
    res = cli("run", flow("ask"), "--store", "memory://", "--no-input")
    assert res.code == 3
    assert CANNOT in res.out
    assert "runs resume" not in res.out + res.err


def test_a_workflow_with_its_own_memory_store_gets_no_resume_hint(
    cli: Blazen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "own.py").write_text(OWN_STORE)
    monkeypatch.setenv("OWN_STORE", "memory://")
    res = cli("run", "own.py", "--arg", "fail=true")
    assert res.code == 1
    assert "store   memory://" in res.out
    assert CANNOT in res.err
    assert "runs resume" not in res.err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_on_an_in_memory_run_gets_no_resume_hint(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazen.cli", "run", PIPELINE, "--arg", "docs=8"],
        cwd=tmp_path,
        env=subprocess_env(BLAZEN_STORE="memory://"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if 'stage="split"' in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "⏸ paused run" in out
    assert CANNOT in out
    assert "runs resume" not in out + err


def test_the_driver_words_its_hints_by_the_store(tmp_path: Path) -> None:
    async def hint(store: CheckpointStore) -> str:
        try:
            handler = await Workflow("cli-echo", echo.steps, store=store).run_with_handler()
            await handler.result()
            return Driver(handler, store, "cli-echo", "flows.py:echo", "x").continue_hint()
        finally:
            await store.close()

    assert asyncio.run(hint(MemoryStore())).startswith(CANNOT)
    durable = asyncio.run(hint(SQLiteStore(tmp_path / "x.db")))
    assert durable.startswith("continue it with: blazen runs resume ")


@every_backend
def test_the_header_names_the_workflows_own_store(
    cli: Blazen, tmp_path: Path, cli_store: CliStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = cli_store.url or "sqlite:///own.db"
    monkeypatch.setenv("OWN_STORE", own)
    (tmp_path / "own.py").write_text(OWN_STORE)
    res = cli("run", "own.py")
    assert res.code == 0, res.err
    where = own if cli_store.url else "own.db"
    assert f"  store   {where}\n" in res.out
    assert "Store" not in res.out  # not a class name such as SQLiteStore


@pytest.mark.parametrize(
    "cli_store", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_password_in_the_store_url_is_never_printed(cli: Blazen, cli_store: CliStore) -> None:
    assert cli_store.url is not None
    parts = urlsplit(cli_store.url)  # the test server trusts local connections: any password
    secret = parts.password or "hunter2"
    netloc = f"{parts.username or 'postgres'}:{secret}@{parts.netloc.rpartition('@')[2]}"
    url = urlunsplit(parts._replace(netloc=netloc))
    shown = urlunsplit(parts._replace(netloc=netloc.replace(f":{secret}@", "@")))
    res = cli("run", flow("echo"), "--store", url)
    assert res.code == 0, res.err
    assert f"store   {shown}\n" in res.out
    listed = cli("runs", "list", "--store", url)
    assert listed.out.splitlines()[-1] == f"1 run in {shown}"
    assert secret not in res.out + res.err + listed.out + listed.err
