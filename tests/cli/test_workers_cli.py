"""``blazen worker``, ``blazen run --submit`` and ``blazen runs wait|respond|cancel|requeue``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Blazen, CliStore, every_backend, flow, run_id_of, subprocess_env


@pytest.fixture
def worker(tmp_path: Path, cli_store: CliStore) -> Iterator[subprocess.Popen[str]]:
    """``blazen worker`` on the test's store for the echo, ask and failing flows; SIGTERM
    drains it at the end of the test, which checks that it stopped cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazen.cli", "worker", flow("echo"), flow("ask"),
         flow("failing"), "--concurrency", "2"],
        cwd=tmp_path,
        env=subprocess_env(**cli_store.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    banner = proc.stderr.readline()
    assert "cli-echo, cli-ask, cli-failing" in banner, banner
    yield proc
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "draining (SIGTERM)" in err
    assert " stopped: " in err


@every_backend
def test_submit_then_a_worker_runs_it_and_wait_prints_the_result(
    cli: Blazen, worker: subprocess.Popen[str]
) -> None:
    res = cli("run", flow("echo"), "--arg", "n=3", "--submit")
    assert res.code == 0, res.err
    assert "Queued cli-echo" in res.out
    run_id = run_id_of(res.out)
    assert f"blazen runs wait {run_id}" in res.out
    waited = cli("runs", "wait", run_id, "--timeout", "60", "-q")
    assert waited.code == 0, waited.err
    assert json.loads(waited.out) == {"n": [3, "int"]}
    shown = cli("runs", "wait", run_id)
    assert f"✔ completed run {run_id}" in shown.out


def test_submit_quiet_prints_only_the_id(cli: Blazen) -> None:
    res = cli("run", flow("echo"), "--submit", "-q")
    assert res.code == 0, res.err
    (run_id,) = res.out.split()
    listed = cli("runs", "list", "-s", "queued")
    assert run_id in listed.out


def test_respond_from_the_cli_and_a_worker_finishes_the_run(
    cli: Blazen, worker: subprocess.Popen[str]
) -> None:
    res = cli("run", flow("ask"), "--no-input")
    assert res.code == 3
    run_id = run_id_of(res.out)
    bad = cli("runs", "respond", run_id, "nope", '"Ada"')
    assert bad.code == 1
    assert f"run '{run_id}' is not waiting for input request 'nope'" in bad.err
    ok = cli("runs", "respond", run_id, "name", '"Ada"')
    assert ok.code == 0, ok.err
    assert f"answered 'name' of run {run_id}" in ok.out
    waited = cli("runs", "wait", run_id[:8], "--timeout", "60", "-q")  # a prefix names it
    assert (waited.code, waited.out.strip()) == (0, '"hello, Ada"')


def test_cancel_and_wait(cli: Blazen) -> None:
    run_id = cli("run", flow("ask"), "--submit", "-q").out.strip()
    res = cli("runs", "cancel", run_id)
    assert (res.code, res.out.strip()) == (0, f"run {run_id}: cancelled")
    waited = cli("runs", "wait", run_id)
    assert waited.code == 1
    assert f"cancelled: run {run_id} was cancelled" in waited.err
    again = cli("runs", "cancel", run_id)
    assert again.code == 1
    assert f"run '{run_id}' is already cancelled; it cannot be cancelled" in again.err


def test_a_failed_run_is_requeued_and_wait_reports_failures(
    cli: Blazen, worker: subprocess.Popen[str]
) -> None:
    run_id = cli("run", flow("failing"), "--submit", "-q").out.strip()
    waited = cli("runs", "wait", run_id, "--timeout", "60")
    assert waited.code == 1
    assert f"error: run {run_id} failed: step 'explode' failed" in waited.err
    res = cli("runs", "requeue", run_id)
    queued = f"run {run_id} is queued: a `blazen worker` continues it"
    assert (res.code, res.out.strip()) == (0, queued)
    again = cli("runs", "wait", run_id, "--timeout", "60")
    assert again.code == 1  # it fails again, in a worker
    finished = run_id_of(cli("run", flow("echo")).out)
    refused = cli("runs", "requeue", finished)
    assert refused.code == 1
    assert "is already completed; it cannot be queued again (fork it instead)" in refused.err


def test_unknown_runs_and_timeouts_are_clear_errors(cli: Blazen) -> None:
    cli("run", flow("echo"), "-q")  # the store exists
    for args in (("wait", "nope"), ("cancel", "nope"), ("requeue", "nope"),
                 ("respond", "nope", "r", "1")):  # fmt: skip
        res = cli("runs", *args)
        assert res.code == 1
        assert "unknown run id 'nope' (store: blazen.db; see `blazen runs list`)" in res.err
    run_id = cli("run", flow("echo"), "--submit", "-q").out.strip()
    res = cli("runs", "wait", run_id, "--timeout", "0.2")
    assert res.code == 1
    assert f"run {run_id} did not finish within 0.2 s (it is queued)" in res.err
