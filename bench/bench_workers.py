"""Many workers on one store: throughput with 1, 2 and 4 worker processes, beside the
store's raw commit rate, and the time another worker takes over a dead worker's run.

    python bench/bench_workers.py                       # PostgreSQL and Redis (skips absent)
    python bench/bench_workers.py --stores postgres --runs 400 --workers 1,2,4

The workload is I/O-bound: a run is a chain of ``--steps`` steps, each of which awaits
``asyncio.sleep(0.01)`` (a call to some service), so a worker overlaps many runs
(``--concurrency`` per process). Each figure is measured after the workers are up: runs/s
and step commits/s from the first claim to the last completion. The raw commit rate is one
process committing one-step deltas on ``--concurrency`` runs at once (no engine).

Takeover: a run's step sleeps for a minute in one worker; that worker is (1) SIGKILLed: a
dead process of this host counts as expired at once; (2) SIGSTOPped: it is alive, so the
other worker takes over when the lease (``--lease``) expires, as when a worker on another
machine dies. The time is from the signal until the other worker's claim is in the store.
Target: under one lease length plus one second.

PostgreSQL: ``$BLAZEN_BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
Redis: ``$BLAZEN_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); each measurement
uses a fresh schema / key prefix, dropped afterwards. Not part of ``run_all.py`` (it needs
the servers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[0] / "src"))

from _common import fmt_rate, fmt_secs, render_table  # noqa: E402

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step  # noqa: E402
from blazen.stores import CheckpointStore, Commit, PendingEvent, open_store  # noqa: E402
from blazen.values import StateValue  # noqa: E402

SERVERS = {
    "postgres": os.environ.get("BLAZEN_BENCH_POSTGRES_URL")
    or "postgresql://postgres@127.0.0.1:5432/test",
    "redis": os.environ.get("BLAZEN_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/0",
}
SLEEP = 0.01


class Hop(Event):
    n: int


@step
async def first(ctx: Context, ev: StartEvent) -> Hop:
    await asyncio.sleep(SLEEP)
    return Hop(n=1)


@step
async def hop(ctx: Context, ev: Hop) -> Hop | StopEvent:
    await asyncio.sleep(float(os.environ.get("BENCH_HOP_SLEEP", SLEEP)))
    ctx.set("n", ev.n)
    if ev.n + 1 >= int(os.environ.get("BENCH_STEPS", "5")):
        return StopEvent(result=ev.n)
    return Hop(n=ev.n + 1)


def chain(store: CheckpointStore | None, lease: float) -> Workflow:
    return Workflow("io-chain", [first, hop], store=store, lease=lease)


# -- one worker process -------------------------------------------------------------------------


async def serve(url: str, concurrency: int, lease: float) -> None:
    """Run a worker until SIGTERM (this script run with ``--serve``)."""
    from blazen.worker import Worker

    store = open_store(url)
    worker = Worker([chain(store, lease)], concurrency=concurrency, lease=lease, drain_timeout=0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    print("ready", flush=True)
    await worker.run()
    await store.close()


def spawn(url: str, concurrency: int, lease: float, **env: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--concurrency", str(concurrency),
         "--lease", str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )  # fmt: skip
    return proc


def ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"worker did not start: {line!r}")


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- fresh stores -------------------------------------------------------------------------------


class Fresh:
    """A fresh schema (PostgreSQL) or key prefix (Redis), removed on exit."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        base = SERVERS[backend]
        key = "schema" if backend == "postgres" else "prefix"
        self.url = f"{base}{'&' if '?' in base else '?'}{key}={self.name}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        asyncio.run(self._drop())

    async def _drop(self) -> None:
        if self.backend == "postgres":
            import asyncpg

            conn = await asyncpg.connect(SERVERS["postgres"])
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
            finally:
                await conn.close()
        else:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(SERVERS["redis"])
            try:
                keys = [k async for k in client.scan_iter(match=f"{{{self.name}}}:*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


async def reachable(backend: str) -> str | None:
    """``None`` when the server answers, else why not."""
    store = open_store(Fresh(backend).url)
    try:
        await store.list_runs(limit=1)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await store.close()


# -- measurements -------------------------------------------------------------------------------


async def raw_commits(url: str, concurrency: int, seconds: float = 3.0) -> float:
    """Commits/s of one-step deltas on ``concurrency`` runs written at once (no engine)."""
    store = open_store(url)
    try:

        async def one(i: int, deadline: float) -> int:
            run_id = f"raw-{i}"
            await store.create_run(
                run_id, "raw", owner="bench", context_state={},
                pending=[PendingEvent("e0", "T", {"i": 0})], collected={}, metadata={},
            )  # fmt: skip
            n = 0
            while time.perf_counter() < deadline:
                commit = Commit(
                    "s",
                    consumed=(f"e{n}",),
                    emitted=(PendingEvent(f"e{n + 1}", "T", {"i": n + 1}),),
                    writes={"k": StateValue.Json({"n": n})},
                )
                await store.commit(run_id, [commit], owner="bench", epoch=1)
                n += 1
            return n

        start = time.perf_counter()
        counts = await asyncio.gather(*(one(i, start + seconds) for i in range(concurrency)))
        return sum(counts) / (time.perf_counter() - start)
    finally:
        await store.close()


async def _submit(url: str, runs: int, lease: float) -> list[str]:
    store = open_store(url)
    try:
        wf = chain(store, lease)
        return [await wf.submit() for _ in range(runs)]
    finally:
        await store.close()


async def _progress(url: str) -> tuple[int, int, float | None]:
    """(completed runs, commits in them, first claim time)."""
    store = open_store(url)
    try:
        done = await store.list_runs(status="completed", limit=1_000_000)
        commits = sum(r.last_seq for r in done)  # commit 0 is the submission
        first_claim = min((r.created_at for r in done), default=None)
        return len(done), commits, first_claim
    finally:
        await store.close()


def throughput(
    url: str, workers: int, runs: int, steps: int, concurrency: int, lease: float
) -> dict[str, float]:
    """Runs/s and step commits/s of ``workers`` processes on ``runs`` queued runs."""
    asyncio.run(_submit(url, runs, lease))
    procs = [spawn(url, concurrency, lease, BENCH_STEPS=str(steps)) for _ in range(workers)]
    try:
        for proc in procs:
            ready(proc)
        start = time.monotonic()
        while True:
            done, commits, _ = asyncio.run(_progress(url))
            if done >= runs:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - start
    finally:
        stop(procs)
    return {"runs_s": runs / elapsed, "commits_s": commits / elapsed, "seconds": elapsed}


async def _owner_of(url: str, run_id: str) -> tuple[str | None, int]:
    store = open_store(url)
    try:
        record = await store.get_run(run_id)
        return record.owner, record.epoch
    finally:
        await store.close()


def _await_claim(url: str, run_id: str, epoch: int, timeout: float = 120.0) -> float:
    """Seconds until ``run_id`` has an epoch above ``epoch``."""
    start = time.monotonic()
    while asyncio.run(_owner_of(url, run_id))[1] <= epoch:
        if time.monotonic() - start > timeout:
            raise RuntimeError("no takeover")
        time.sleep(0.01)
    return time.monotonic() - start


def takeover(url: str, lease: float) -> dict[str, float]:
    """Seconds from a worker's SIGKILL / SIGSTOP until the other worker claimed its run."""
    (run_id,) = asyncio.run(_submit(url, 1, lease))
    env = {"BENCH_STEPS": "3", "BENCH_HOP_SLEEP": "60"}
    procs = [spawn(url, 4, lease, **env) for _ in range(2)]
    try:
        for proc in procs:
            ready(proc)
        out: dict[str, float] = {}
        for how in ("kill", "stop"):
            while True:  # wait until a worker holds the run in its long step
                owner, epoch = asyncio.run(_owner_of(url, run_id))
                if owner is not None:
                    break
                time.sleep(0.01)
            pid = int(owner.split(":")[-2])
            victim = next(p for p in procs if p.pid == pid)
            victim.send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)
            out[how] = _await_claim(url, run_id, epoch)
            if how == "kill":
                victim.wait()
                procs[procs.index(victim)] = replacement = spawn(url, 4, lease, **env)
                ready(replacement)
        return out
    finally:
        stop(procs)


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--stores", default="postgres,redis")
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--lease", type=float, default=5.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.concurrency, args.lease))
        return 0
    results: dict[str, Any] = {}
    rows = []
    for backend in args.stores.split(","):
        why = asyncio.run(reachable(backend))
        if why is not None:
            print(f"skipping {backend}: {why}")
            continue
        with Fresh(backend) as url:
            raw = asyncio.run(raw_commits(url, args.concurrency))
        results[backend] = {"raw_commits_s": raw}
        rows.append([backend, "raw commits (no engine)", "-", "-", fmt_rate(raw), "-"])
        for n in (int(w) for w in args.workers.split(",")):
            with Fresh(backend) as url:
                got = throughput(url, n, args.runs, args.steps, args.concurrency, args.lease)
            results[backend][f"workers_{n}"] = got
            rows.append([backend, f"{n} worker{'s' if n > 1 else ''}", fmt_rate(got["runs_s"]),
                         fmt_secs(got["seconds"]), fmt_rate(got["commits_s"]),
                         f"{got['commits_s'] / raw:.0%}"])  # fmt: skip
        with Fresh(backend) as url:
            took = takeover(url, args.lease)
        results[backend]["takeover"] = took
        rows.append([backend, "takeover after SIGKILL (same host)", "-", fmt_secs(took["kill"]),
                     "-", "-"])  # fmt: skip
        rows.append([backend, f"takeover after SIGSTOP (lease {args.lease:g} s)", "-",
                     fmt_secs(took["stop"]), "-", f"target < {args.lease + 1:g} s"])  # fmt: skip
    print(
        f"\n## Workers: {args.runs} runs of {args.steps} steps (each awaits asyncio.sleep(0.01)),"
        f" {args.concurrency} runs at once per worker process\n"
    )
    headers = ["store", "what", "runs/s", "time", "step commits/s", "of raw commit rate"]
    print(render_table(headers, rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
