"""The blazen contender: each workload as blazen steps and workflows, and one timed run of each."""

import asyncio
from collections.abc import Callable
from typing import Any

import blazen as bz

from .base import BLOBS, KV, STAMP, expect, make_blob, perf, run_in_loop, timed


class Hop(bz.Event):
    n: int
    last: int


@bz.step
async def chain_start(ctx: bz.Context, ev: bz.StartEvent) -> Hop:
    """Chain: the first hop."""
    return Hop(n=0, last=ev.hops)


@bz.step
async def chain_hop(ctx: bz.Context, ev: Hop) -> Hop | bz.StopEvent:
    """Chain: the next hop, or stop at the last one."""
    n = ev.n + 1
    if n >= ev.last:
        return bz.StopEvent(result=n)
    return Hop(n=n, last=ev.last)


BZ_CHAIN = bz.Workflow("bench_chain", [chain_start, chain_hop])


class Item(bz.Event):
    i: int


@bz.step
async def fan_start(ctx: bz.Context, ev: bz.StartEvent) -> list[Item]:
    """Fan-out: set the counter in the context and emit N items."""
    n = ev.n
    ctx.set("n", n)
    ctx.set("done", 0)
    return [Item(i=i) for i in range(n)]


@bz.step
async def fan_work(ctx: bz.Context, ev: Item) -> bz.StopEvent | None:
    """Fan-out: count one item through ctx.get/set; the last one stops."""
    done = ctx.get("done") + 1
    ctx.set("done", done)
    if done == ctx.get("n"):
        return bz.StopEvent(result=done)
    return None


BZ_FAN = bz.Workflow("bench_fanout", [fan_start, fan_work])


class StepA(bz.Event):
    x: int


class StepB(bz.Event):
    x: int


@bz.step
async def three_1(ctx: bz.Context, ev: bz.StartEvent) -> StepA:
    """3-step run, step 1: start -> A(x)."""
    return StepA(x=ev.x)


@bz.step
async def three_2(ctx: bz.Context, ev: StepA) -> StepB:
    """3-step run, step 2: A(x) -> B(x + 1)."""
    return StepB(x=ev.x + 1)


@bz.step
async def three_3(ctx: bz.Context, ev: StepB) -> bz.StopEvent:
    """3-step run, step 3: B(x) -> stop with x + 1."""
    return bz.StopEvent(result=ev.x + 1)


BZ_THREE = bz.Workflow("bench_three_steps", [three_1, three_2, three_3])


@bz.step
async def kv_step(ctx: bz.Context, ev: bz.StartEvent) -> bz.StopEvent:
    """Ctx ops: N ctx.set then N ctx.get, timing only the two loops."""
    keys, vals = KV.keys, KV.vals
    t0 = perf()
    for k, v in zip(keys, vals, strict=True):
        ctx.set(k, v)
    for k in keys:
        ctx.get(k)
    t = perf() - t0
    if ctx.get(keys[-1]) != vals[-1] or ctx.get(keys[0]) != vals[0]:
        raise AssertionError("ctx kv check failed")
    return bz.StopEvent(result=t)


BZ_KV = bz.Workflow("bench_ctx_kv", [kv_step])


@bz.step
async def bytes_step(ctx: bz.Context, ev: bz.StartEvent) -> bz.StopEvent:
    """Bytes ops: N ctx.set_bytes of one 100 MB value, then N ctx.get_bytes, timed inside."""
    keys, blob = KV.keys, BLOBS["value"]
    t0 = perf()
    for k in keys:
        ctx.set_bytes(k, blob)
    for k in keys:
        ctx.get_bytes(k)
    t = perf() - t0
    got = ctx.get_bytes(keys[-1])
    if got is None or len(got) != len(blob):
        raise AssertionError("ctx bytes check failed")
    return bz.StopEvent(result=t)


BZ_BYTES = bz.Workflow("bench_ctx_bytes", [bytes_step])


class BlobRead(bz.Event):
    pass


@bz.step
async def blob_put_bytes(ctx: bz.Context, ev: bz.StartEvent) -> BlobRead:
    """Blob: make it, stamp t0, store it with ctx.set_bytes."""
    blob = make_blob(ev.size)
    STAMP["t0"] = perf()
    ctx.set_bytes("blob", blob)
    del blob
    return BlobRead()


@bz.step
async def blob_get_bytes(ctx: bz.Context, ev: BlobRead) -> bz.StopEvent:
    """Blob: read it with ctx.get_bytes, stamp t1."""
    got = ctx.get_bytes("blob")
    STAMP["t1"] = perf()
    return bz.StopEvent(result=len(got) if got is not None else -1)


@bz.step
async def blob_put_set(ctx: bz.Context, ev: bz.StartEvent) -> BlobRead:
    """Blob: make it, stamp t0, store it with ctx.set."""
    blob = make_blob(ev.size)
    STAMP["t0"] = perf()
    ctx.set("blob", blob)
    del blob
    return BlobRead()


@bz.step
async def blob_get_get(ctx: bz.Context, ev: BlobRead) -> bz.StopEvent:
    """Blob: read it with ctx.get, stamp t1."""
    got = ctx.get("blob")
    STAMP["t1"] = perf()
    return bz.StopEvent(result=len(got))


BZ_BLOB_BYTES = bz.Workflow("bench_blob_bytes", [blob_put_bytes, blob_get_bytes])
BZ_BLOB_SET = bz.Workflow("bench_blob_set", [blob_put_set, blob_get_get])


async def _result(wf: bz.Workflow, **kw: Any) -> Any:
    handler = await wf.run_with_handler(**kw)
    return (await handler.result()).result


def bz_chain(hops: int) -> float:
    """Seconds of one blazen chain of ``hops`` hops."""
    return timed(lambda _: _result(BZ_CHAIN, hops=hops), hops, "blazen chain")


def bz_fan(n: int) -> float:
    """Seconds of one blazen fan-out of ``n`` events."""
    return timed(lambda _: _result(BZ_FAN, n=n), n, "blazen fan-out")


async def _bz_build(n: int) -> int:
    items = [Item(i=i) for i in range(n)]  # alive until timed, as in fan_start
    return len(items)


def bz_fan_build(n: int) -> float:
    """Seconds to build the ``n`` events of a blazen fan-out, alone (no dispatch)."""
    return timed(lambda _: _bz_build(n), n, "blazen fan-out events")


async def _bz_gather(runs: int) -> list[Any]:
    handlers = [await BZ_THREE.run_with_handler(x=i) for i in range(runs)]
    return await asyncio.gather(*(h.result() for h in handlers))


def _results(stops: list[Any]) -> list[Any]:
    return [r.result for r in stops]


def bz_runs(runs: int) -> float:
    """Seconds of ``runs`` blazen 3-step runs, all started, then their results gathered."""
    want = [i + 2 for i in range(runs)]
    return timed(lambda _: _bz_gather(runs), want, "blazen runs", key=_results)


def bz_kv(n: int) -> float:
    """Seconds of the N sets and N gets inside one blazen step (timed by the step)."""
    return run_in_loop(lambda: _result(BZ_KV))


def bz_bytes(n: int) -> float:
    """Seconds of the N set_bytes and N get_bytes inside one blazen step (timed by the step)."""
    return run_in_loop(lambda: _result(BZ_BYTES))


def bz_blob(wf: bz.Workflow) -> Callable[[int], float]:
    """A function timing one blob run of ``wf``, store to read (from the steps' stamps)."""

    def run(size: int) -> float:
        async def main() -> float:
            expect(await _result(wf, size=size), size, f"{wf.name} blob length")
            return STAMP["t1"] - STAMP["t0"]

        return run_in_loop(main)

    return run
