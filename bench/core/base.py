"""Primitives every contender shares: timed runs in a fresh loop, result checks, inputs."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
SRC = BENCH.parent / "src"
ENTRY = BENCH / "bench_core.py"  # what the blob child processes run

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def set_clock(name: str) -> None:
    """Time runs by wall clock (default) or by this process's CPU time (``--clock cpu``)."""
    _clock[0] = CLOCKS[name]


def perf() -> float:
    """The current time on the chosen clock, in seconds."""
    return _clock[0]()


class PeerTimeout(Exception):
    """A peer run passed its per-run cap."""


def expect(got: Any, want: Any, what: str) -> None:
    """Fail when a run computed the wrong thing, so a fast time never hides a bug."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, expected {want!r}")


async def peer_result(handler: Awaitable[Any]) -> Any:
    """Await a peer run, turning its timeout error into PeerTimeout (shown as "timed out")."""
    try:
        return await handler
    except Exception as exc:  # the peer's WorkflowTimeoutError (or a wrapper of it)
        if "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower():
            raise PeerTimeout(str(exc)) from exc
        raise


def run_in_loop(main: Callable[[], Coroutine[Any, Any, Any]]) -> float:
    """asyncio.run in a fresh loop; turn a peer timeout into inf seconds."""
    try:
        return float(asyncio.run(main()))
    except PeerTimeout:
        return math.inf


def timed(
    start: Callable[[Any], Awaitable[Any]],
    want: Any,
    what: str,
    setup: Callable[[], Any] | None = None,
    key: Callable[[Any], Any] | None = None,
) -> float:
    """Seconds of one run in a fresh loop, timed around ``await start(setup())``.

    ``setup`` (e.g. building the peer's workflow) runs in the loop before the timing, and
    ``key(result)`` is checked against ``want`` after it, so neither is timed.
    """

    async def main() -> float:
        arg = setup() if setup else None
        t0 = perf()
        got = await start(arg)
        t = perf() - t0
        expect(key(got) if key else got, want, what)
        return t

    return run_in_loop(main)


@dataclass
class KVData:
    """Keys and values of the ctx workload, built once per N outside every timing."""

    keys: list[str] = field(default_factory=list)
    vals: list[Any] = field(default_factory=list)


KV = KVData()


def set_kv(n: int) -> None:
    """Build the ctx workload's N keys and values: small dicts ``{"i": i, "v": "x"}``."""
    KV.keys = [f"k{i}" for i in range(n)]
    KV.vals = [{"i": i, "v": "x"} for i in range(n)]


def set_kv_scalar(n: int) -> None:
    """Build the scalar ctx workload's N keys and values (an int or a str, alternately)."""
    KV.keys = [f"k{i}" for i in range(n)]
    KV.vals = [i if i % 2 == 0 else f"v{i}" for i in range(n)]


BYTES_VALUE = 100 * 1000 * 1000  # the bytes workload's value size (one shared object)
BLOBS: dict[str, bytes] = {}


def set_bytes_keys(n: int) -> None:
    """Build the bytes workload's N keys and its one 100 MB value (dropped at ``n == 0``)."""
    KV.keys = [f"b{i}" for i in range(n)]
    KV.vals = []
    if n:
        BLOBS.setdefault("value", make_blob(BYTES_VALUE))
    else:
        BLOBS.clear()


# perf_counter stamps of the blob workload: t0 just before the value goes into the
# context (after the blob was made), t1 just after the other step read it back
STAMP: dict[str, float] = {}


def make_blob(size: int) -> bytes:
    """The blob workload's value: one allocation of ``size`` bytes, every page written."""
    return b"\xa5" * size
