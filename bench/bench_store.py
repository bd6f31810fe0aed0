"""Checkpoint store benchmark: commit throughput and cost, printed as a table of medians.

Run: ``python bench/bench_store.py`` (``--rounds N`` for more repetitions). A "small commit"
is one step's typical delta: it consumes one event, emits one event and writes one small key.

``--peaks MIB [--url URL ...]`` instead measures memory: the RSS high-water, as a multiple of
the value, of committing a ``ctx.set_bytes`` value of MIB MiB and of ``fork_run`` from that
commit, each in a fresh process (``tests/stores/peak_child.py``), on a temporary SQLite file
and on each store URL given (e.g. a PostgreSQL schema or a Redis prefix to use and keep).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from blazen.stores.base import CheckpointStore, Commit, PendingEvent
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore
from blazen.values import StateValue

MiB = 1024 * 1024
COMMITS = 2048
STATE_SIZES = [("1 KB", 1024), ("10 MB", 10 * MiB), ("100 MB", 100 * MiB)]


class Run:
    """One run in a store and the next small commit to write to it."""

    def __init__(self, store: CheckpointStore, run_id: str) -> None:
        self.store, self.run_id, self.i = store, run_id, 0

    async def create(self, state: dict[str, StateValue]) -> None:
        """Write commit 0 with one pending event."""
        await self.store.create_run(
            self.run_id,
            "bench",
            owner="bench",
            context_state=state,
            pending=[PendingEvent("e0", "Start", {"n": 0})],
            collected={},
            metadata={},
        )

    def next_commit(self) -> Commit:
        """A small step: consume the last event, emit the next, write one key."""
        self.i += 1
        event = PendingEvent(f"e{self.i}", "Tick", {"n": self.i, "text": "x" * 64}, "tick")
        return Commit(
            "tick",
            consumed=(f"e{self.i - 1}",),
            emitted=(event,),
            writes={"counter": StateValue.Json({"n": self.i})},
        )

    async def commit(self, size: int) -> None:
        """One ``commit`` call of ``size`` small commits."""
        await self.store.commit(
            self.run_id, [self.next_commit() for _ in range(size)], owner="bench"
        )


async def _throughput(run: Run, batch: int) -> float:
    """Commits per second for ``COMMITS`` commits written ``batch`` at a time."""
    started = time.perf_counter()
    for _ in range(COMMITS // batch):
        await run.commit(batch)
    return COMMITS / (time.perf_counter() - started)


async def _latency(run: Run, count: int = 300) -> float:
    """Median microseconds of one single-commit ``commit`` call."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await run.commit(1)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def _bench(make: Callable[[Path], CheckpointStore], folder: Path) -> dict[str, float]:
    """Every measurement for one backend, on fresh runs."""
    store = make(folder / "bench.db")
    out: dict[str, float] = {}
    for batch in (1, 32):
        run = Run(store, f"tp{batch}")
        await run.create({})
        out[f"throughput, batches of {batch} (commits/s)"] = await _throughput(run, batch)
    for label, size in STATE_SIZES:
        run = Run(store, f"state{size}")
        await run.create({"blob": StateValue.Bytes(os.urandom(size))})
        out[f"1 commit with {label} unchanged state (us)"] = await _latency(run)
    await store.close()
    return out


def _round(make: Callable[[Path], CheckpointStore]) -> dict[str, float]:
    """One round in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_bench(make, Path(folder)))


PEAK_CHILD = Path(__file__).resolve().parents[1] / "tests" / "stores" / "peak_child.py"


def _peak(url: str, mib: int, *mode: str) -> tuple[str, int]:
    """``(run id, extra RSS bytes)`` of one ``peak_child.py`` process."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(PEAK_CHILD), url, str(mib), *mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id, extra = proc.stdout.split()
    return run_id, int(extra)


def peaks(mib: int, urls: list[str]) -> None:
    """Print the commit and fork RSS peaks of a large value per store."""
    with tempfile.TemporaryDirectory() as folder:
        print(f"RSS high-water above the baseline, as a multiple of a {mib} MiB value")
        print(f"{'store':<60}  {'commit':>7}  {'fork':>7}")
        for url in [f"sqlite:///{folder}/peaks.db", *urls]:
            run_id, committed = _peak(url, mib, "commit")
            _, forked = _peak(url, mib, "fork", run_id)
            size = mib * 1024 * 1024
            print(
                f"{url.split('?')[0][:60]:<60}  {committed / size:>6.2f}x  {forked / size:>6.2f}x"
            )


def main() -> None:
    """Run every round for every backend and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peaks", type=int, metavar="MIB", help="measure memory instead")
    parser.add_argument("--url", action="append", default=[], help="another store (--peaks)")
    args = parser.parse_args()
    if args.peaks:
        peaks(args.peaks, args.url)
        return
    backends: dict[str, Callable[[Path], CheckpointStore]] = {
        "sqlite": SQLiteStore,
        "memory": lambda _: MemoryStore(),
    }
    results = {name: [_round(make) for _ in range(args.rounds)] for name, make in backends.items()}
    metrics = list(results["sqlite"][0])
    width = max(map(len, metrics))
    print(f"median of {args.rounds} rounds, {COMMITS} commits per throughput round")
    print(f"{'measure':<{width}}  {'sqlite':>12}  {'memory':>12}")
    for metric in metrics:
        cells = [statistics.median(r[metric] for r in results[name]) for name in backends]
        print(f"{metric:<{width}}  " + "  ".join(f"{cell:>12,.0f}" for cell in cells))


if __name__ == "__main__":
    main()
