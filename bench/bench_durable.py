"""Durable runs on the embedded SQLite store, end to end through the engine.

    python bench/bench_durable.py [--repeat 5] [--hops 10000]

Two tables, medians of interleaved repeats (``gc.collect()`` before each run, as in
bench_core: a run does not pay for a full collection that the run before it made due):
1. a 10k-hop chain: in memory (no store), with the engine's durable work only (each commit
   recorded, built and encoded, then dropped: no store I/O), on MemoryStore, on SQLite; the
   floor is a bare ``sqlite3`` loop doing one small-row transaction per hop in the same WAL
   mode.
2. the cost of one step's commit when 1 KB, 10 MB or 100 MB of state that the step does
   not touch is already stored: it must not grow with that state.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import fmt_rate, fmt_ratio, fmt_secs, median, render_table

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen.stores._batch import EncodedBatch
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore


class Hop(Event):
    n: int


class Settle(Event):
    pass


@step
async def begin(ctx: Context, ev: StartEvent) -> Settle:
    if ev.state_bytes:
        ctx.set_bytes("unchanged", os.urandom(ev.state_bytes))
    return Settle()


@step
async def settle(ctx: Context, ev: Settle) -> Hop:
    """Wait until the setup commit (which may hold 100 MB) is durable, so it is not timed."""
    store = STORE[0]
    if store is not None:
        while (await store.get_run(ctx.run_id())).last_seq < 1:
            await asyncio.sleep(0.01)
    return Hop(n=0)


@step
async def hop(ctx: Context, ev: Hop) -> Hop | StopEvent:
    ctx.set("n", ev.n)
    if ev.n == TIMED_FROM[0]:
        FIRST_HOP[0] = time.perf_counter()
    if ev.n >= HOPS[0]:
        return StopEvent(result=ev.n)
    return Hop(n=ev.n + 1)


LABELS = {
    "floor": "bare sqlite3 commit loop",
    "engine-only": "blazen, durable work only (no store I/O)",
}
HOPS = [10_000]
FIRST_HOP = [0.0]
TIMED_FROM = [0]  # hops before this one are not timed (warm-up)
STORE: list[SQLiteStore | MemoryStore | None] = [None]


class _DroppingStore(MemoryStore):
    """A measuring instrument, not a store: it checks and encodes every commit batch (as
    every backend does before its I/O), then drops it. A chain on it costs what the engine
    itself does per durable hop, with no storage at all. Like the SQL and Redis stores it
    keeps no live ``Commit`` in its batches (only the memory store needs them)."""

    _keeps_sources = False

    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        return 0


def _fresh_db(tmp: Path, name: str) -> Path:
    path = tmp / name
    for p in tmp.glob(name + "*"):
        p.unlink()
    return path


async def _chain(store_kind: str, tmp: Path, state_bytes: int = 0) -> float:
    """Seconds per hop of one chain run (the setup step excluded)."""
    store = None
    if store_kind == "sqlite":
        store = SQLiteStore.from_url(str(_fresh_db(tmp, "chain.db")))
    elif store_kind == "memory-store":
        store = MemoryStore()
    elif store_kind == "engine-only":
        store = _DroppingStore()
    STORE[0] = store if store_kind != "engine-only" else None  # nothing lands to wait for
    wf = Workflow("bench-chain", [begin, settle, hop], store=store)
    handler = await wf.run_with_handler(state_bytes=state_bytes)
    await handler.result()  # includes waiting for the last commit to be durable
    dt = time.perf_counter() - FIRST_HOP[0]
    if store is not None:
        await store.close()
    return dt / (HOPS[0] - TIMED_FROM[0])


def _sqlite_floor(tmp: Path) -> float:
    """A bare sqlite3 loop: one small upsert per transaction, WAL + synchronous=NORMAL."""
    path = _fresh_db(tmp, "floor.db")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)")
    t0 = time.perf_counter()
    for i in range(HOPS[0]):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", ("n", str(i).encode()))
        con.execute("COMMIT")
    dt = time.perf_counter() - t0
    con.close()
    return dt / HOPS[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hops", type=int, default=10_000)
    parser.add_argument(
        "--chain-only", action="store_true", help="skip the unchanged-state table (faster)"
    )
    parser.add_argument("--json", default="", help="also write the chain medians to this file")
    args = parser.parse_args()
    HOPS[0] = args.hops
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        kinds = ["memory", "engine-only", "memory-store", "sqlite"]
        samples: dict[str, list[float]] = {k: [] for k in [*kinds, "floor"]}
        for _ in range(args.repeat):
            for kind in kinds:
                gc.collect()  # as bench_core does: no run pays for the previous one's garbage
                samples[kind].append(asyncio.run(_chain(kind, tmp)))
            gc.collect()
            samples["floor"].append(_sqlite_floor(tmp))
        floor = median(samples["floor"])
        rows = []
        for kind in [*kinds, "floor"]:
            per_hop = median(samples[kind])
            target = ">= 10k hops/s" if kind == "sqlite" else ""
            ok = "" if kind != "sqlite" else ("yes" if 1 / per_hop >= 10_000 else "NO")
            rows.append(
                [
                    LABELS.get(kind, f"blazen, {kind}"),
                    fmt_rate(1 / per_hop),
                    fmt_secs(per_hop),
                    fmt_ratio(per_hop / floor),
                    target,
                    ok,
                ]
            )
        print(f"## {args.hops}-hop chain, durability on (medians of {args.repeat})\n")
        print(
            render_table(
                ["contender", "hops/s", "per hop", "vs floor", "target", "met"], rows, "lrrrll"
            )
        )
        if args.json:
            medians = {kind: median(samples[kind]) for kind in samples}
            payload = {"hops": args.hops, "per_hop": medians, "samples": samples}
            Path(args.json).write_text(json.dumps(payload, indent=1))
        if args.chain_only:
            return

        sizes = [("1 KB", 1024), ("10 MB", 10 << 20), ("100 MB", 100 << 20)]
        # Time the second half only: the setup commit and the WAL checkpoint it triggers
        # (100 MB copied into the file once) land in the first half.
        HOPS[0] = min(args.hops, 4_000)
        TIMED_FROM[0] = HOPS[0] // 2
        per = {label: [] for label, _ in sizes}  # type: dict[str, list[float]]
        for _ in range(args.repeat):
            for label, n in sizes:
                gc.collect()
                per[label].append(asyncio.run(_chain("sqlite", tmp, n)))
        base = median(per["1 KB"])
        rows = [
            [label, fmt_secs(median(per[label])), fmt_ratio(median(per[label]) / base)]
            for label, _ in sizes
        ]
        timed = HOPS[0] - TIMED_FROM[0]
        print(
            f"\n## commit cost per step with unchanged state stored"
            f" (last {timed} of {HOPS[0]} hops)\n"
        )
        print(render_table(["unchanged state", "per step (commit incl.)", "vs 1 KB"], rows, "lrr"))


if __name__ == "__main__":
    main()
