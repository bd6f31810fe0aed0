"""The peer, llama-index-workflows: the same workload shapes with its API, and timed runs.

Import it only through ``core.peer``, which skips it when it is not installed or not needed.
Fan-out uses ctx.send_event in a loop (about 2x faster in the peer than returning a
list[...]: see README); the counter is updated under ctx.store.edit_state() because its
steps run with 4 workers.
"""

import asyncio
import math
from collections.abc import Callable
from typing import Any

import workflows as lw
from workflows import Context as LContext
from workflows.events import Event as LEvent
from workflows.events import StartEvent as LStart
from workflows.events import StopEvent as LStop

from .base import KV, STAMP, expect, make_blob, peer_result, perf, run_in_loop, timed


class LChainStart(LStart):
    hops: int


class LHop(LEvent):
    n: int
    last: int


class LChain(lw.Workflow):
    """Chain: one step re-emits LHop until the last hop."""

    @lw.step
    async def start(self, ev: LChainStart) -> LHop:
        return LHop(n=0, last=ev.hops)

    @lw.step
    async def hop(self, ev: LHop) -> LHop | LStop:
        n = ev.n + 1
        if n >= ev.last:
            return LStop(result=n)
        return LHop(n=n, last=ev.last)


class LFanStart(LStart):
    n: int


class LItem(LEvent):
    i: int


class LFan(lw.Workflow):
    """Fan-out: N events sent with ctx.send_event, counted under edit_state()."""

    @lw.step
    async def start(self, ctx: LContext, ev: LFanStart) -> LItem | None:
        async with ctx.store.edit_state() as st:
            st["n"] = ev.n
            st["done"] = 0
        for i in range(ev.n):
            ctx.send_event(LItem(i=i))
        return None

    @lw.step
    async def work(self, ctx: LContext, ev: LItem) -> LStop | None:
        async with ctx.store.edit_state() as st:
            st["done"] = done = st["done"] + 1
            n = st["n"]
        if done == n:
            return LStop(result=done)
        return None


class LThreeStart(LStart):
    x: int


class LA(LEvent):
    x: int


class LB(LEvent):
    x: int


class LThree(lw.Workflow):
    """3-step run: start -> A(x) -> B(x + 1) -> stop with x + 1."""

    @lw.step
    async def s1(self, ev: LThreeStart) -> LA:
        return LA(x=ev.x)

    @lw.step
    async def s2(self, ev: LA) -> LB:
        return LB(x=ev.x + 1)

    @lw.step
    async def s3(self, ev: LB) -> LStop:
        return LStop(result=ev.x + 1)


class LKVStart(LStart):
    deadline: float


class LKV(lw.Workflow):
    """Ctx ops: N store.set then N store.get in one step, stopping at the deadline."""

    @lw.step
    async def kv(self, ctx: LContext, ev: LKVStart) -> LStop:
        keys, vals = KV.keys, KV.vals
        deadline = ev.deadline
        t0 = perf()
        i = 0
        for k, v in zip(keys, vals, strict=True):
            await ctx.store.set(k, v)
            i += 1
            if not i & 1023 and perf() > deadline:
                return LStop(result=math.inf)
        for k in keys:
            await ctx.store.get(k)
            i += 1
            if not i & 1023 and perf() > deadline:
                return LStop(result=math.inf)
        t = perf() - t0
        if await ctx.store.get(keys[-1]) != vals[-1]:
            raise AssertionError("peer kv check failed")
        return LStop(result=t)


class LBlobStart(LStart):
    size: int


class LBlobRead(LEvent):
    pass


class LBlob(lw.Workflow):
    """Blob: store.set in one step, store.get in the next, stamped like blazen's."""

    @lw.step
    async def put(self, ctx: LContext, ev: LBlobStart) -> LBlobRead:
        blob = make_blob(ev.size)
        STAMP["t0"] = perf()
        await ctx.store.set("blob", blob)
        del blob
        return LBlobRead()

    @lw.step
    async def get(self, ctx: LContext, ev: LBlobRead) -> LStop:
        got = await ctx.store.get("blob")
        STAMP["t1"] = perf()
        return LStop(result=len(got))


def _peer_once(
    wf: type[lw.Workflow], start: Callable[[], LStart], want: int, what: str, cap: float
) -> float:
    """Seconds of one run of ``wf`` from the event ``start()`` (inf past ``cap``)."""
    return timed(
        lambda w: peer_result(w.run(start_event=start())), want, what, setup=lambda: wf(timeout=cap)
    )


def peer_chain(hops: int, cap: float) -> float:
    """Seconds of one peer chain of ``hops`` hops (inf past ``cap``)."""
    return _peer_once(LChain, lambda: LChainStart(hops=hops), hops, "llama chain", cap)


def peer_fan(n: int, cap: float) -> float:
    """Seconds of one peer fan-out of ``n`` events (inf past ``cap``)."""
    return _peer_once(LFan, lambda: LFanStart(n=n), n, "llama fan-out", cap)


def peer_runs(runs: int, cap: float) -> float:
    """Seconds of ``runs`` concurrent peer 3-step runs, gathered (inf past ``cap``)."""

    def start(wf: LThree) -> Any:
        handlers = [wf.run(start_event=LThreeStart(x=i)) for i in range(runs)]
        return asyncio.gather(*(peer_result(h) for h in handlers))

    want = [i + 2 for i in range(runs)]
    return timed(start, want, "llama runs", setup=lambda: LThree(timeout=cap))


def peer_kv(n: int, cap: float) -> float:
    """Seconds of the N sets and N gets inside one peer step (inf past ``cap``)."""

    async def main() -> float:
        wf = LKV(timeout=None)
        return float(await wf.run(start_event=LKVStart(deadline=perf() + cap)))

    return run_in_loop(main)


def peer_blob(size: int) -> float:
    """Seconds of one peer blob run, ctx.store.set to ctx.store.get (from the stamps)."""

    async def main() -> float:
        wf = LBlob(timeout=None)
        expect(await wf.run(start_event=LBlobStart(size=size)), size, "llama blob length")
        return STAMP["t1"] - STAMP["t0"]

    return run_in_loop(main)
