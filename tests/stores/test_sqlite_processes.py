"""Several real processes share one SQLite file: no "database is locked", no lost commit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import blazen
from blazen.stores.sqlite import SQLiteStore

from .helpers import J

WORKERS = 3
SINGLE = 150
BATCHES = 20
BATCH = 16

CHILD = """
import asyncio, os, sys, time
from blazen.stores.base import Commit, PendingEvent
from blazen.stores.sqlite import SQLiteStore
from blazen.values import StateValue

path, go, name = sys.argv[1], sys.argv[2], sys.argv[3]
single, batches, size = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])

def step(i):
    ev = PendingEvent(f"e{i}", "T", {"i": i})
    consumed = (f"e{i - 1}",) if i else ()
    return Commit(f"s{i}", consumed=consumed, emitted=(ev,), writes={f"k{i}": StateValue.Json(i)})

async def main():
    store = SQLiteStore(path)
    await store.create_run(name, "wf", owner=name, context_state={}, pending=[],
                           collected={}, metadata={})
    i = 0
    for _ in range(single):
        await store.commit(name, [step(i)], owner=name)
        i += 1
        if i % 25 == 0:
            await store.list_runs()
    for _ in range(batches):
        await store.commit(name, [step(i + j) for j in range(size)], owner=name)
        i += size
    await store.close()
    print("done", i, flush=True)

print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
asyncio.run(main())
"""


def _env() -> dict[str, str]:
    """This environment, with the blazen being tested importable in the child."""
    src = str(Path(blazen.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


async def test_processes_commit_to_one_file_concurrently(tmp_path: Path) -> None:
    path, go = tmp_path / "shared.db", tmp_path / "go"
    args = [str(path), str(go)]
    counts = [str(SINGLE), str(BATCHES), str(BATCH)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *args, f"w{n}", *counts],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for n in range(WORKERS)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    started = time.monotonic()
    outputs = [child.communicate(timeout=100) for child in children]
    assert time.monotonic() - started < 100
    total = SINGLE + BATCHES * BATCH
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert "locked" not in err
        assert out.split() == ["done", str(total)]
    store = SQLiteStore(path)
    runs = await store.list_runs()
    assert sorted(r.run_id for r in runs) == [f"w{n}" for n in range(WORKERS)]
    for n in range(WORKERS):
        loaded = await store.load(f"w{n}")
        assert loaded.seq == total
        assert loaded.context_state == {f"k{i}": J(i) for i in range(total)}
        assert [p.event_id for p in loaded.pending] == [f"e{total - 1}"]
    await store.close()
