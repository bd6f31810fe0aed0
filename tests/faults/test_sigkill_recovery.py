"""Kill a durable run with SIGKILL at several points, resume it in a new process.

The resumed run must give the uninterrupted result, keep its run id, and every step
whose commit landed before the kill must not have run again.
"""

from __future__ import annotations

import ast
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from blazen.stores.sqlite import SQLiteStore

HERE = Path(__file__).parent
CHILD = HERE / "crash_workflow.py"
SRC = HERE.parents[1] / "src"
sys.path.insert(0, str(HERE))
import crash_workflow  # noqa: E402


def _env(log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    env["CRASH_LOG"] = str(log)
    return env


def _lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _committed_steps(store_path: Path, run_id: str) -> list[int]:
    """Indices of ``work`` steps (and -1 for begin) whose commit is in the store."""

    async def read() -> list[int]:
        store = SQLiteStore.from_url(str(store_path))
        try:
            loaded = await store.load(run_id)
            hist = await store.checkpoints(run_id)
        finally:
            await store.close()
        done = [-1] if any(c.step == "begin" for c in hist) else []
        done += [int(k[3:]) for k in loaded.context_state if k.startswith("acc")]
        return done

    return asyncio.run(read())


@pytest.mark.parametrize("kill_after", [1, 2, 4, 6, 8])
def test_sigkill_then_resume(tmp_path: Path, kill_after: int) -> None:
    log = tmp_path / "effects.log"
    db = tmp_path / "runs.db"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "--store", str(db), "--seed", "2"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(log),
    )
    assert child.stdout is not None
    first = child.stdout.readline().split()
    assert first[0] == "RUN"
    run_id = first[1]
    deadline = time.monotonic() + 30
    while len(_lines(log)) < kill_after and time.monotonic() < deadline:
        time.sleep(0.001)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    before = Counter(_lines(log))
    committed = _committed_steps(db, run_id)

    out = subprocess.run(
        [sys.executable, str(CHILD), "--store", str(db), "--resume", run_id],
        capture_output=True,
        text=True,
        env=_env(log),
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert out[0] == f"RUN {run_id}"
    assert out[-1].startswith("RESULT ")
    assert ast.literal_eval(out[-1][len("RESULT ") :]) == crash_workflow.expected(2)

    after = Counter(_lines(log))
    names = ["begin"] + [f"work{i}" for i in range(crash_workflow.STEPS)]
    for name in names:
        assert after[name] >= 1, f"{name} never ran"
    for idx in committed:
        name = "begin" if idx == -1 else f"work{idx}"
        assert after[name] == 1, f"{name} was committed before the kill but ran again"
    # Nothing ran more than once beyond the one uncommitted in-flight step.
    assert sum(after.values()) - len(names) <= 1 + sum(before.values()) - len(committed)
