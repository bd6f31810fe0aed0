"""One worker process of the multi-process test: N concurrent durable runs on a shared file."""

from __future__ import annotations

import asyncio
import sys

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen.stores.sqlite import SQLiteStore


class Step(Event):
    i: int


@step
async def first(ctx: Context, ev: StartEvent) -> Step:
    ctx.set("worker", ev.worker)
    ctx.set_bytes("payload", bytes([ev.worker]) * 8192)  # large enough to be a shared blob
    return Step(i=0)


@step
async def more(ctx: Context, ev: Step) -> Step | StopEvent:
    ctx.set(f"s{ev.i}", ev.i)
    await asyncio.sleep(0)
    if ev.i == 9:
        return StopEvent(result=ctx.get("worker") * 100 + sum(ctx.get(f"s{i}") for i in range(10)))
    return Step(i=ev.i + 1)


async def main(path: str, worker: int, runs: int) -> None:
    store = SQLiteStore.from_url(path)
    wf = Workflow("multi", [first, more], store=store)
    handlers = [await wf.run_with_handler(worker=worker) for _ in range(runs)]
    results = [(await h.result()).result for h in handlers]
    assert results == [worker * 100 + 45] * runs, results
    await store.close()
    print("OK", worker, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
