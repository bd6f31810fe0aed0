"""A process of the concurrent-recovery test: ``start`` N fan-out runs (then get killed), or
``recover`` them once ``--go`` exists (two such processes race)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "src")]

from blazen.stores import open_store  # noqa: E402
from workers.flows import fanout  # noqa: E402


async def start(url: str, runs: int) -> None:
    store = open_store(url)
    wf = fanout(store, lease=30.0)
    handlers = [await wf.run_with_handler(seed=i) for i in range(runs)]
    for h in handlers:
        print(h.run_id, handlers.index(h), flush=True)
    print("started", flush=True)
    await asyncio.gather(*(h.result() for h in handlers))
    print("finished", flush=True)  # the test kills this process long before


async def recover(url: str, go: Path) -> None:
    store = open_store(url)
    wf = fanout(store, lease=30.0)
    while not go.exists():
        time.sleep(0.001)  # both recovering processes leave this loop together
    handlers = await wf.recover()
    for h in handlers:
        await h.result()
        print("recovered", h.run_id, os.getpid(), flush=True)
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["start", "recover"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--go")
    args = parser.parse_args()
    if args.mode == "start":
        asyncio.run(start(args.store, args.runs))
    else:
        asyncio.run(recover(args.store, Path(args.go)))
