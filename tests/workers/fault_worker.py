"""One worker process of the fault tests: ``blazen.worker.Worker`` on the fan-out workflow.

It writes its counters (runs finished, leases lost…) to ``--stats`` every 0.2 s, so a
SIGKILL loses at most the last fraction of a second of them; SIGTERM drains and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "src")]

from blazen.stores import open_store  # noqa: E402
from blazen.worker import Worker  # noqa: E402
from workers.flows import fanout  # noqa: E402


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lease", type=float, default=3.0)
    args = parser.parse_args(argv)
    store = open_store(args.store)
    worker = Worker([fanout(store, args.lease)], concurrency=args.concurrency, drain_timeout=5)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    stats = Path(args.stats)

    def write() -> None:  # atomically: a SIGKILL never leaves half a file
        partial = stats.with_suffix(".tmp")
        partial.write_text(json.dumps({"pid": os.getpid(), **asdict(worker.stats)}))
        os.replace(partial, stats)

    async def report() -> None:
        while True:
            write()
            await asyncio.sleep(0.2)

    reporter = asyncio.ensure_future(report())
    print("ready", flush=True)
    try:
        await worker.run()
    finally:
        reporter.cancel()
        write()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
