"""Workflows of the worker tests: a fan-out whose every step leaves an fsync'd side effect."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen.stores.base import CheckpointStore

PARTS = 4
LOG_ENV = "BLAZEN_TEST_EFFECTS"
SLEEP_ENV = "BLAZEN_TEST_STEP_SLEEP"
"""``low,high``: how long each ``work`` step sleeps (seconds, uniform); default 5-30 ms."""


class Part(Event):
    i: int
    seed: int


class Done(Event):
    i: int
    value: int


def effect(ctx: Context, name: str, started: float) -> None:
    """Append ``start-time run step pid`` to the side-effect log, durably (the thing that
    must not repeat once committed). The time is when the step began: a process frozen
    (SIGSTOP) mid-step writes its effect later, but its step was in flight at the freeze."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = f"{started:.6f} {ctx.run_id()} {name} {os.getpid()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@step
async def begin(ctx: Context, ev: StartEvent) -> list[Part]:
    effect(ctx, "begin", time.time())
    ctx.set("seed", ev.seed)
    return [Part(i=i, seed=ev.seed) for i in range(PARTS)]


@step
async def work(ctx: Context, ev: Part) -> Done:
    effect(ctx, f"work{ev.i}", time.time())
    low, high = (float(x) for x in os.environ.get(SLEEP_ENV, "0.005,0.03").split(","))
    await asyncio.sleep(random.uniform(low, high))
    ctx.set(f"by{ev.i}", os.getpid())
    return Done(i=ev.i, value=ev.seed * 10 + ev.i * ev.i)


@step
async def gather(ctx: Context, ev: Done) -> StopEvent | None:
    started = time.time()
    got = ctx.collect_events(ev, [Done] * PARTS)
    if got is None:
        return None
    effect(ctx, "gather", started)
    return StopEvent(result={"seed": ctx.get("seed"), "total": sum(d.value for d in got)})


def expected(seed: int) -> dict[str, Any]:
    return {"seed": seed, "total": sum(seed * 10 + i * i for i in range(PARTS))}


def fanout(store: CheckpointStore | str | None = None, lease: float = 30.0) -> Workflow:
    return Workflow("fanout", [begin, work, gather], store=store, lease=lease)


def effects(path: Path) -> list[tuple[float, str, str, int]]:
    """The side-effect log: ``(time, run id, step, pid)`` per execution."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        t, run_id, name, pid = line.split()
        out.append((float(t), run_id, name, int(pid)))
    return out
