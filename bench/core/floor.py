"""The floor: the least bare-asyncio code doing each workload's work, to measure against.

Workloads 1-3 use a hand-written dispatcher: one asyncio.Queue of events, a dict event
class -> coroutine function, one consumer loop that awaits the handler and queues what it
returns (an event or a list of them) until a stop event comes back. Events are plain
__slots__ objects; state is a dict. No validation, routing table, context object,
concurrency control or error handling. Workload 4 is a dict with value semantics written
by hand (a copy of the small dict on set and on get), 5 a plain dict (scalars need no copy),
6 a plain dict holding the one bytes object (bytes are immutable), 7 two copies of the blob.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from .base import BLOBS, KV, expect, make_blob, perf, run_in_loop, timed


class FStart:
    __slots__ = ("kw",)

    def __init__(self, **kw: Any) -> None:
        self.kw = kw


class FStop:
    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result


class FHop:
    __slots__ = ("last", "n")

    def __init__(self, n: int, last: int) -> None:
        self.n = n
        self.last = last


class FItem:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


class FA:
    __slots__ = ("x",)

    def __init__(self, x: int) -> None:
        self.x = x


class FB(FA):
    __slots__ = ()


async def floor_run(handlers: dict[type, Callable[..., Any]], start: Any) -> Any:
    """Dispatch events from ``start`` until a handler returns FStop; return its result."""
    state: dict[str, Any] = {}
    queue: asyncio.Queue[Any] = asyncio.Queue()
    queue.put_nowait(start)
    while True:
        if queue.empty():
            raise RuntimeError("floor run stalled")
        ev = await queue.get()
        out = await handlers[type(ev)](state, ev)
        if out is None:
            continue
        if type(out) is list:
            for e in out:
                queue.put_nowait(e)
        elif type(out) is FStop:
            return out.result
        else:
            queue.put_nowait(out)


async def f_chain_start(state: dict[str, Any], ev: FStart) -> FHop:
    """Chain: the first hop."""
    return FHop(0, ev.kw["hops"])


async def f_chain_hop(state: dict[str, Any], ev: FHop) -> Any:
    """Chain: the next hop, or stop at the last one."""
    n = ev.n + 1
    if n >= ev.last:
        return FStop(n)
    return FHop(n, ev.last)


F_CHAIN = {FStart: f_chain_start, FHop: f_chain_hop}


async def f_fan_start(state: dict[str, Any], ev: FStart) -> list[FItem]:
    """Fan-out: set the counter and emit N items."""
    n = ev.kw["n"]
    state["n"] = n
    state["done"] = 0
    return [FItem(i) for i in range(n)]


async def f_fan_work(state: dict[str, Any], ev: FItem) -> Any:
    """Fan-out: count one item; the last one stops the run."""
    done = state["done"] + 1
    state["done"] = done
    if done == state["n"]:
        return FStop(done)
    return None


F_FAN = {FStart: f_fan_start, FItem: f_fan_work}


async def f_s1(state: dict[str, Any], ev: FStart) -> FA:
    """3-step run, step 1: start -> A(x)."""
    return FA(ev.kw["x"])


async def f_s2(state: dict[str, Any], ev: FA) -> FB:
    """3-step run, step 2: A(x) -> B(x + 1)."""
    return FB(ev.x + 1)


async def f_s3(state: dict[str, Any], ev: FB) -> FStop:
    """3-step run, step 3: B(x) -> stop with x + 1."""
    return FStop(ev.x + 1)


F_THREE = {FStart: f_s1, FA: f_s2, FB: f_s3}


def floor_chain(hops: int) -> float:
    """Seconds of one floor chain of ``hops`` hops."""
    return timed(lambda _: floor_run(F_CHAIN, FStart(hops=hops)), hops, "floor chain")


def floor_fan(n: int) -> float:
    """Seconds of one floor fan-out of ``n`` events."""
    return timed(lambda _: floor_run(F_FAN, FStart(n=n)), n, "floor fan-out")


async def _f_build(n: int) -> int:
    items = [FItem(i) for i in range(n)]  # alive until timed, as in the start step
    return len(items)


def floor_fan_build(n: int) -> float:
    """Seconds to build the ``n`` events of a floor fan-out, alone (no dispatch)."""
    return timed(lambda _: _f_build(n), n, "floor fan-out events")


async def _floor_gather(runs: int) -> list[Any]:
    tasks = [asyncio.create_task(floor_run(F_THREE, FStart(x=i))) for i in range(runs)]
    return await asyncio.gather(*tasks)


def floor_runs(runs: int) -> float:
    """Seconds of ``runs`` concurrent floor 3-step runs, one task each, gathered."""
    return timed(lambda _: _floor_gather(runs), [i + 2 for i in range(runs)], "floor runs")


def floor_kv_copy(n: int) -> float:
    """Seconds of ``d[k] = v.copy()`` then ``d[k].copy()``: a dict with value semantics.

    This is what a user writes to keep small flat dicts safe from later mutation: one
    shallow copy on the way in and one on the way out (for ``{"i": i, "v": "x"}`` a shallow
    copy is a full copy; ``copy.deepcopy`` would be about ten times slower).
    """

    async def main() -> float:
        keys, vals = KV.keys, KV.vals
        d: dict[str, Any] = {}
        t0 = perf()
        for k, v in zip(keys, vals, strict=True):
            d[k] = v.copy()
        for k in keys:
            d[k].copy()
        t = perf() - t0
        expect(d[keys[-1]], vals[-1], "floor kv copy")
        return t

    return run_in_loop(main)


def floor_bytes(n: int) -> float:
    """Seconds of ``d[k] = blob`` then ``d[k]`` over the bytes workload's keys (no copy)."""

    async def main() -> float:
        keys, blob = KV.keys, BLOBS["value"]
        d: dict[str, Any] = {}
        t0 = perf()
        for k in keys:
            d[k] = blob
        for k in keys:
            d[k]
        t = perf() - t0
        expect(len(d[keys[-1]]), len(blob), "floor bytes")
        return t

    return run_in_loop(main)


def floor_kv(n: int) -> float:
    """Seconds of ``d[k] = v`` then ``d[k]`` over the ctx workload's keys (plain dict)."""

    async def main() -> float:
        keys, vals = KV.keys, KV.vals
        d: dict[str, Any] = {}
        t0 = perf()
        for k, v in zip(keys, vals, strict=True):
            d[k] = v
        for k in keys:
            d[k]
        t = perf() - t0
        expect(d[keys[-1]], vals[-1], "floor kv")
        return t

    return run_in_loop(main)


def blob_copy2(size: int) -> float:
    """Seconds of two copies of a ``size``-byte blob, ``bytes(bytearray(b))`` (the reference)."""

    async def main() -> float:
        blob = make_blob(size)
        t0 = perf()
        copy = bytes(bytearray(blob))
        t = perf() - t0
        expect(len(copy), size, "two copies")
        return t

    return run_in_loop(main)
