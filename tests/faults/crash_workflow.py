"""A multi-step durable workflow whose every step leaves a side effect in a log file.

Run as a program it starts (or, with ``--resume RUN_ID``, resumes) a run on the SQLite
store given by ``--store`` and prints ``RUN <id>`` first and ``RESULT <value>`` last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen.stores.sqlite import SQLiteStore

STEPS = 8


class Work(Event):
    i: int
    acc: int


def _side_effect(name: str) -> None:
    """Append one line per executed step, durably (the thing that must not repeat)."""
    with open(os.environ["CRASH_LOG"], "a", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@step
async def begin(ctx: Context, ev: StartEvent) -> Work:
    _side_effect("begin")
    ctx.set("blob", bytes(range(256)) * 64)
    return Work(i=0, acc=ev.seed)


@step
async def work(ctx: Context, ev: Work) -> Work | StopEvent:
    _side_effect(f"work{ev.i}")
    await asyncio.sleep(float(os.environ.get("CRASH_STEP_DELAY", "0.02")))
    acc = ev.acc * 3 + ev.i
    ctx.set(f"acc{ev.i}", acc)
    if ev.i + 1 == STEPS:
        blob = ctx.get_bytes("blob") or b""
        return StopEvent(result={"acc": acc, "blob": len(blob), "keys": len(ctx.keys())})
    return Work(i=ev.i + 1, acc=acc)


def expected(seed: int) -> dict[str, int]:
    acc = seed
    for i in range(STEPS):
        acc = acc * 3 + i
    return {"acc": acc, "blob": 256 * 64, "keys": STEPS + 1}


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--resume")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    store = SQLiteStore.from_url(args.store)
    wf = Workflow("crash-test", [begin, work], store=store)
    if args.resume:
        handler = await wf.resume_run(args.resume)
    else:
        handler = await wf.run_with_handler(seed=args.seed)
    print("RUN", handler.run_id, flush=True)
    result = await handler.result()
    print("RESULT", result.result, flush=True)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
