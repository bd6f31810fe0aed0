"""Fault tests against the real stores: worker processes killed and stalled while they run.

``test_workers_survive_kills_and_stalls``: 4 worker processes run 200 submitted fan-out runs;
every ~0.5 s a random worker is SIGKILLed and restarted (or, one time in four, stopped with
SIGSTOP past its lease and continued later: it is alive, so only the lease's expiry lets
another worker take its runs, and its late commits must be refused). The disruptions last a
bounded time; then every run must complete with its exact result and the audit
(``audit.py``) must find nothing: no committed step re-executed, no commit accepted from a
stale epoch, duplicated side effects only for steps in flight at a disruption.

``test_two_processes_recover_at_once``: 20 durable runs in a process that is SIGKILLed
mid-flight; two processes then call ``wf.recover()`` at the same instant. Each run is
recovered by exactly one of them, all complete, none is left running.

Both print their figures (``-s``); sizes are bounded so the suite stays a few minutes long.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blazen.stores import open_store

from .audit import Audit, audit
from .flows import LOG_ENV, SLEEP_ENV, effects, fanout

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
RUNS = 200
WORKERS = 4
CONCURRENCY = 3
STEP_SLEEP = "0.1,0.3"
"""Runs take ~0.4 s and 12 run at once: the 200 runs last about as long as the faults."""
DISRUPT_FOR = 8.0
LEASE = 3.0
STALL = LEASE + 1.5
FINISH_WITHIN = 240.0

pytestmark = pytest.mark.slow


def _env(log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE.parent), env.get("PYTHONPATH", "")])
    env[LOG_ENV] = str(log)
    env[SLEEP_ENV] = STEP_SLEEP
    return env


def _spawn_worker(url: str, stats: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "fault_worker.py"), "--store", url, "--stats", str(stats),
         "--lease", str(LEASE), "--concurrency", str(CONCURRENCY)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(log),
    )  # fmt: skip


def _ready(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


async def _submit(url: str) -> dict[str, int]:
    store = open_store(url)
    try:
        wf = fanout(store, LEASE)
        return {await wf.submit(seed=seed): seed for seed in range(RUNS)}
    finally:
        await store.close()


async def _completed(url: str) -> int:
    store = open_store(url)
    try:
        done = await store.list_runs(workflow_name="fanout", status="completed", limit=RUNS + 1)
        return len(done)
    finally:
        await store.close()


def _thaw(proc: subprocess.Popen[str], frozen: dict[int, list[tuple[float, float]]]) -> None:
    """SIGCONT a stopped worker, noting when (its last freeze ends now)."""
    proc.send_signal(signal.SIGCONT)
    stopped_at, _ = frozen[proc.pid][-1]
    frozen[proc.pid][-1] = (stopped_at, time.time())


async def _audit(
    url: str,
    seeds: dict[str, int],
    log: Path,
    disrupted: set[int],
    frozen: dict[int, list[tuple[float, float]]] | None = None,
) -> Audit:
    store = open_store(url)
    try:
        return await audit(store, seeds, effects(log), disrupted, frozen or {})
    finally:
        await store.close()


def _stats(folder: Path) -> tuple[dict[str, int], set[int]]:
    """The workers' counters summed, and the pids of workers that lost a lease."""
    totals: dict[str, int] = {}
    losers = set()
    for path in folder.glob("stats-*.json"):
        stats = json.loads(path.read_text())
        if stats["lost"]:
            losers.add(stats["pid"])
        for key, value in stats.items():
            if key != "pid":
                totals[key] = totals.get(key, 0) + value
    return totals, losers


def test_workers_survive_kills_and_stalls(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "effects.log"
    seeds = asyncio.run(_submit(store_url))
    started = 0

    def spawn() -> subprocess.Popen[str]:
        nonlocal started
        started += 1
        return _spawn_worker(store_url, tmp_path / f"stats-{started}.json", log)

    procs = [_ready(proc) for proc in [spawn() for _ in range(WORKERS)]]
    rng = random.Random(11)
    disrupted: set[int] = set()
    stopped: dict[int, tuple[subprocess.Popen[str], float]] = {}
    frozen: dict[int, list[tuple[float, float]]] = {}  # pid -> (SIGSTOP, SIGCONT) wall times
    kills = stalls = 0
    began = time.monotonic()
    try:
        while time.monotonic() - began < DISRUPT_FOR:
            time.sleep(rng.uniform(0.3, 0.7))  # the pace of the faults, not synchronisation
            for pid, (proc, until) in list(stopped.items()):
                if time.monotonic() >= until:
                    _thaw(proc, frozen)
                    del stopped[pid]
            slot = rng.randrange(WORKERS)
            victim = procs[slot]
            if victim.pid in stopped:
                continue
            disrupted.add(victim.pid)
            if rng.random() < 0.25:
                victim.send_signal(signal.SIGSTOP)
                frozen.setdefault(victim.pid, []).append((time.time(), math.inf))
                stopped[victim.pid] = (victim, time.monotonic() + STALL)
                stalls += 1
            else:
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                assert victim.stdout is not None
                victim.stdout.close()
                kills += 1
                procs[slot] = spawn()  # not waited for: the faults go on meanwhile
        for proc, _ in stopped.values():
            _thaw(proc, frozen)
        deadline = time.monotonic() + FINISH_WITHIN
        while asyncio.run(_completed(store_url)) < RUNS:
            assert time.monotonic() < deadline, "the runs did not all complete in time"
            time.sleep(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
            assert proc.stdout is not None
            proc.stdout.close()
    elapsed = time.monotonic() - began
    stats, losers = _stats(tmp_path)
    spurious = losers - disrupted  # a worker too slow to renew its lease (the machine is busy)
    report = asyncio.run(_audit(store_url, seeds, log, disrupted | losers, frozen))
    print(
        f"\n{store_url.split(':')[0]}: {RUNS} runs, {WORKERS} workers, {kills} SIGKILLs +"
        f" {stalls} SIGSTOPs in {DISRUPT_FOR:.0f} s, all done in {elapsed:.1f} s;"
        f" {report.executions} step executions, {report.duplicates} duplicated (in flight at a"
        f" disruption, {report.resumed_mid_step} of them resumed mid-step after a SIGSTOP),"
        f" {len(report.after_commit)} after their commit; {report.claims} claims;"
        f" stale commits refused {stats.get('stale_commits_refused', 0)}, leases lost"
        f" {stats.get('lost', 0)} ({len(spurious)} workers lost one without a fault);"
        f" epoch problems {len(report.epoch_problems)}"
    )
    assert report.completed == RUNS
    assert report.problems() == []
    assert kills >= 5


def _recover(url: str, go: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "recover_child.py"), "recover", "--store", url,
         "--go", str(go)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(log),
    )  # fmt: skip


@pytest.mark.parametrize("trial", range(3))
def test_two_processes_recover_at_once(store_url: str, tmp_path: Path, trial: int) -> None:
    log = tmp_path / "effects.log"
    starter = subprocess.Popen(
        [sys.executable, str(HERE / "recover_child.py"), "start", "--store", store_url,
         "--runs", "20"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(log),
    )  # fmt: skip
    assert starter.stdout is not None
    seeds: dict[str, int] = {}
    for line in starter.stdout:
        if line.strip() == "started":
            break
        run_id, seed = line.split()
        seeds[run_id] = int(seed)
    deadline = time.monotonic() + 30
    while len(effects(log)) < 20 + 5 * trial:  # kill at a different depth each trial
        assert time.monotonic() < deadline
        time.sleep(0.001)
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    starter.stdout.close()
    go = tmp_path / "go"
    racers = [_recover(store_url, go, log) for _ in range(2)]
    go.touch()
    outputs = [proc.communicate(timeout=120)[0] for proc in racers]
    assert [proc.returncode for proc in racers] == [0, 0]
    got = [{line.split()[1] for line in out.splitlines() if line.startswith("recovered")}
           for out in outputs]  # fmt: skip
    report = asyncio.run(_audit(store_url, seeds, log, {starter.pid}))
    unfinished_at_kill = {r for r in seeds if r in got[0] | got[1]}
    print(
        f"\n{store_url.split(':')[0]} trial {trial}: 20 runs, {len(unfinished_at_kill)} unfinished"
        f" at the kill, recovered {len(got[0])} + {len(got[1])} by two racing processes (both:"
        f" {len(got[0] & got[1])});"
        f" {report.duplicates} duplicated executions (in flight at the kill),"
        f" {len(report.after_commit)} after their commit"
    )
    assert got[0].isdisjoint(got[1])
    assert report.completed == 20
    assert report.problems() == []
    assert unfinished_at_kill  # the kill did leave work to recover
