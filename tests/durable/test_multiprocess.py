"""Several processes run durable workflows on one SQLite file at once: no lock errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from blazen.stores.sqlite import SQLiteStore

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"


def test_three_processes_share_one_store_file(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "multi_worker.py"), str(db), str(worker), "15"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for worker in (1, 2, 3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("OK"), (out, err)

    async def check() -> None:
        store = SQLiteStore.from_url(str(db))
        try:
            runs = await store.list_runs(workflow_name="multi", limit=1000)
            assert len(runs) == 45
            assert {r.status for r in runs} == {"completed"}
            assert all(r.last_seq == 11 for r in runs)  # create (0), 11 steps (the last ends it)
        finally:
            await store.close()

    asyncio.run(check())
