"""SIGKILL a durable run at random points in a real child process, then resume it in another.

Every workflow of ``matrix_flows`` (a chain, a fan-out/fan-in, a human in the loop, large
binary values) on every durable backend (SQLite file, PostgreSQL, Redis). After the
resume the result must be exact, every side effect must have happened, and a side effect
whose commit reached the store before the kill must not have happened again. The kill
points come from a seeded generator (``$BLAZEN_FAULT_SEED``, default 0), named in the
failure message so that a failing case can be replayed.
"""

from __future__ import annotations

import ast
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from blazen.stores.base import open_store

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
sys.path.insert(0, str(HERE))
import matrix_flows  # noqa: E402
from matrix_backends import BACKENDS, store_url  # noqa: E402

SEED = int(os.environ.get("BLAZEN_FAULT_SEED", "0"))
KILLS_PER_CASE = 2
LIMIT = 60.0  # seconds any one child may take


def _env(log: Path) -> dict[str, str]:
    env = dict(os.environ, MATRIX_LOG=str(log), MATRIX_DELAY="0.01")
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    return env


def _effects(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _stored(url: str, run_id: str) -> tuple[str, list[str]]:
    """The run's stored status and the side effects its committed state records."""

    async def read() -> tuple[str, list[str]]:
        store = open_store(url)
        try:
            record = await store.get_run(run_id)
            loaded = await store.load(run_id)
        finally:
            await store.close()
        key = matrix_flows.EFFECT_KEY
        return record.status, [k[len(key) :] for k in loaded.context_state if k.startswith(key)]

    return asyncio.run(read())


def _kill_after(child: subprocess.Popen[str], log: Path, n: int) -> bool:
    """SIGKILL ``child`` once ``n`` side effects are logged; False if it ended first."""
    deadline = time.monotonic() + LIMIT
    while len(_effects(log)) < n and child.poll() is None:
        assert time.monotonic() < deadline, f"only {len(_effects(log))} of {n} effects ran"
        time.sleep(0.001)
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait(LIMIT)
    assert child.returncode == -signal.SIGKILL
    return True


def _result(lines: list[str], run_id: str) -> Any:
    assert lines[0] == f"RUN {run_id}", lines
    assert lines[-1].startswith("RESULT "), lines
    return ast.literal_eval(lines[-1][len("RESULT ") :])


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flow", matrix_flows.FLOWS)
@pytest.mark.parametrize("case", range(KILLS_PER_CASE))
def test_sigkill_at_a_random_point_then_resume(
    tmp_path: Path, flow: str, backend: str, case: int
) -> None:
    url, drop = store_url(backend, tmp_path)
    try:
        _crash_and_resume(tmp_path, url, flow, backend, case)
    finally:
        drop()


def _crash_and_resume(tmp_path: Path, url: str, flow: str, backend: str, case: int) -> None:
    names = matrix_flows.EFFECTS[flow]
    kill_at = random.Random(f"{SEED}:{flow}:{backend}:{case}").randint(1, len(names) - 1)
    where = f"seed {SEED}, {flow} on {backend}, killed after effect {kill_at} of {len(names)}"
    log = tmp_path / "effects.log"
    command = [sys.executable, str(HERE / "matrix_flows.py"), "--flow", flow, "--store", url]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=_env(log))
    assert child.stdout is not None
    with child.stdout:
        first = child.stdout.readline().split()
        assert first[:1] == ["RUN"], where
        run_id = first[1]
        killed = _kill_after(child, log, kill_at)
        rest = child.stdout.read().splitlines()
    before = Counter(_effects(log))
    status, committed = _stored(url, run_id)
    if not killed:  # the run ended before the kill could land: it must be complete and exact
        assert child.returncode == 0, where
        assert _result([f"RUN {run_id}", *rest], run_id) == matrix_flows.RESULTS[flow](), where
        assert status == "completed", where
        return
    assert status in ("running", "waiting"), where
    assert set(committed) <= set(before), where  # a commit records an effect that happened

    out = subprocess.run(
        [*command, "--resume", run_id],
        capture_output=True,
        text=True,
        env=_env(log),
        timeout=LIMIT,
    )
    assert out.returncode == 0, f"{where}: {out.stderr[-2000:]}"
    assert _result(out.stdout.splitlines(), run_id) == matrix_flows.RESULTS[flow](), where
    after = Counter(_effects(log))
    for name in names:
        assert after[name] >= 1, f"{where}: {name} never ran"
        assert after[name] <= 2, f"{where}: {name} ran {after[name]} times"
    for name in committed:
        assert after[name] == 1, f"{where}: {name} was committed before the kill but ran again"
    assert _stored(url, run_id)[0] == "completed", where
