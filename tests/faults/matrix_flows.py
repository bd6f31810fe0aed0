"""The workflows of the fault matrix, each step leaving a side effect that must not repeat.

Four shapes: a chain, a fan-out/fan-in with ``collect_events``, a human-in-the-loop flow,
and one with large binary values. Each step with a side effect appends its name to the
file ``$MATRIX_LOG`` (fsync'd) and writes ``done:<name>`` into the context, so the step's
commit records that the effect happened: an effect whose key is in the store must never
run again after a crash.

Run as a program, ``python matrix_flows.py --flow NAME --store URL [--resume RUN_ID]``
starts (or resumes) a run, answers its input requests, and prints ``RUN <id>`` first and
``RESULT <repr>`` last.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sys
from collections.abc import Callable
from typing import Any

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowError,
    WorkflowHandler,
    step,
)
from blazen.stores.base import CheckpointStore

CHAIN_STEPS = 8
FAN_OUT = 6
BLOB_SIZE = 2 * 1024 * 1024 + 3  # past the 1 MiB mark where stores write blobs in pieces
ANSWER = "approved"
EFFECT_KEY = "done:"


def effect(ctx: Context, name: str) -> None:
    """Record that the side effect ``name`` happened: in the log now, in the store at commit."""
    with open(os.environ["MATRIX_LOG"], "a", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    ctx.set(EFFECT_KEY + name, True)


async def work_time() -> None:
    """A step's work after its side effect (``$MATRIX_DELAY`` s): where most kills land."""
    delay = float(os.environ.get("MATRIX_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)


# -- a chain -------------------------------------------------------------------------------
class Link(Event):
    i: int
    acc: int


@step
async def chain_begin(ctx: Context, ev: StartEvent) -> Link:
    effect(ctx, "begin")
    return Link(i=0, acc=7)


@step
async def chain_link(ctx: Context, ev: Link) -> Link | StopEvent:
    effect(ctx, f"link{ev.i}")
    await work_time()
    acc = ev.acc * 3 + ev.i
    if ev.i + 1 == CHAIN_STEPS:
        return StopEvent(result={"acc": acc})
    return Link(i=ev.i + 1, acc=acc)


def _chain_result() -> dict[str, int]:
    acc = 7
    for i in range(CHAIN_STEPS):
        acc = acc * 3 + i
    return {"acc": acc}


# -- a fan-out and fan-in ------------------------------------------------------------------
class Item(Event):
    i: int


class Squared(Event):
    i: int
    sq: int


@step
async def fan_scatter(ctx: Context, ev: StartEvent) -> list[Item]:
    effect(ctx, "scatter")
    return [Item(i=i) for i in range(FAN_OUT)]


@step(max_concurrency=2)
async def fan_square(ctx: Context, ev: Item) -> Squared:
    effect(ctx, f"item{ev.i}")
    await work_time()
    return Squared(i=ev.i, sq=ev.i * ev.i)


@step
async def fan_join(ctx: Context, ev: Squared) -> StopEvent | None:
    got = ctx.collect_events(ev, [Squared] * FAN_OUT)
    if got is None:
        return None
    return StopEvent(result={"squares": sorted(e.sq for e in got)})


# -- a human in the loop -------------------------------------------------------------------
class Approved(Event):
    answer: str


@step
async def hitl_draft(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    effect(ctx, "draft")
    ctx.set("draft", "Dear Ada,")
    await work_time()
    return InputRequestEvent(request_id="approve", prompt="Send the draft?")


@step
async def hitl_decide(ctx: Context, ev: InputResponseEvent) -> Approved:
    effect(ctx, "decide")
    await work_time()
    return Approved(answer=str(ev.response))


@step
async def hitl_send(ctx: Context, ev: Approved) -> StopEvent:
    effect(ctx, "send")
    await work_time()
    return StopEvent(result={"draft": ctx.get("draft"), "answer": ev.answer})


# -- large binary values -------------------------------------------------------------------
class Half(Event):
    pass


class Both(Event):
    pass


def blob(n: int) -> bytes:
    """The ``n``-th large value: ``BLOB_SIZE`` deterministic bytes."""
    return random.Random(n).randbytes(BLOB_SIZE)


@step
async def blob_first(ctx: Context, ev: StartEvent) -> Half:
    effect(ctx, "blob0")
    ctx.set_bytes("blob0", blob(0))
    await work_time()
    return Half()


@step
async def blob_second(ctx: Context, ev: Half) -> Both:
    effect(ctx, "blob1")
    ctx.set_bytes("blob1", blob(1))
    await work_time()
    return Both()


@step
async def blob_digest(ctx: Context, ev: Both) -> StopEvent:
    effect(ctx, "digest")
    await work_time()
    a, b = ctx.get_bytes("blob0") or b"", ctx.get_bytes("blob1") or b""
    return StopEvent(result={"sizes": [len(a), len(b)], "sha": hashlib.sha256(a + b).hexdigest()})


def _blob_result() -> dict[str, Any]:
    a, b = blob(0), blob(1)
    return {"sizes": [len(a), len(b)], "sha": hashlib.sha256(a + b).hexdigest()}


# -- the catalogue -------------------------------------------------------------------------
STEPS: dict[str, list[Any]] = {
    "chain": [chain_begin, chain_link],
    "fanout": [fan_scatter, fan_square, fan_join],
    "hitl": [hitl_draft, hitl_decide, hitl_send],
    "blobs": [blob_first, blob_second, blob_digest],
}
EFFECTS: dict[str, list[str]] = {
    "chain": ["begin"] + [f"link{i}" for i in range(CHAIN_STEPS)],
    "fanout": ["scatter"] + [f"item{i}" for i in range(FAN_OUT)],
    "hitl": ["draft", "decide", "send"],
    "blobs": ["blob0", "blob1", "digest"],
}
RESULTS: dict[str, Callable[[], Any]] = {
    "chain": _chain_result,
    "fanout": lambda: {"squares": [i * i for i in range(FAN_OUT)]},
    "hitl": lambda: {"draft": "Dear Ada,", "answer": ANSWER},
    "blobs": _blob_result,
}
FLOWS = list(STEPS)


def build(flow: str, store: CheckpointStore | str) -> Workflow:
    """The durable workflow ``flow`` on ``store``."""
    return Workflow(f"matrix-{flow}", STEPS[flow], store=store, timeout=60)


async def drive(handler: WorkflowHandler) -> Any:
    """Answer every input request the run makes, then return its result's payload."""
    answered: set[str] = set()
    async for ev in handler.stream_events():
        if isinstance(ev, InputRequestEvent) and ev.request_id not in answered:
            answered.add(ev.request_id)
            try:
                await handler.respond_to_input(ev.request_id, ANSWER)
            except WorkflowError:
                if handler.status not in ("failed", "cancelled", "completed"):
                    raise  # a refused answer to a live run is an error; to a dead one, moot
    return (await handler.result()).result


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", choices=FLOWS, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--resume")
    args = parser.parse_args(argv)
    wf = build(args.flow, args.store)
    if args.resume:
        handler = await wf.resume_run(args.resume)
    else:
        handler = await wf.run_with_handler()
    print("RUN", handler.run_id, flush=True)
    result = await drive(handler)
    print("RESULT", repr(result), flush=True)
    if wf.store is not None:
        await wf.store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
