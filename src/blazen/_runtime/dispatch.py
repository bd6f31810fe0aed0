"""Scheduling a run's deliveries: per-step queues drained by a small pool of worker tasks.

There is no task per event. A worker pops a ready step, runs it and routes what it
returns; while steps never suspend, one worker drains everything (a chain or a fan-out
costs no event-loop round trip per event). When running steps do suspend and events
are still waiting, a scheduled check adds workers, so suspended steps overlap.
``max_concurrency`` caps how many deliveries of one step run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from blazen._call import StepCall, current_step
from blazen._runtime.types import Item
from blazen.events import Event
from blazen.step import StepSpec

__all__ = ["Dispatcher"]

_YIELD_EVERY = 64  # steps a worker runs back to back before letting others in
_SPAWN_BATCH = 64


class _Worker:
    __slots__ = ("current", "step", "task")

    def __init__(self) -> None:
        self.current: Item | None = None  # the delivery being handled, to step ``step``
        self.step = ""
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    """The queues and workers of one run; subclasses say how to execute one delivery."""

    __slots__ = (
        "_quiet",
        "busy",
        "calls",
        "check_scheduled",
        "ctx",
        "dispatching",
        "finished",
        "idle",
        "in_ready",
        "inflight",
        "lean",
        "limits",
        "loop",
        "plain",
        "queues",
        "ready",
        "specs",
        "workers",
        "yielding",
    )

    finished: bool

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        specs: dict[str, StepSpec],
        limits: dict[str, int],
        plain: dict[str, bool],
    ) -> None:
        self.loop = loop
        self.specs = specs
        self.queues: dict[str, deque[Item]] = {n: deque() for n in specs}
        self.inflight: dict[str, int] = dict.fromkeys(specs, 0)
        self.limits = limits  # step -> max_concurrency (0: unlimited); shared by the runs
        self.plain = plain  # step -> called directly (async, no timeout, no retries)
        self.lean = False  # set by the subclass: may plain steps run inline (no recording)?
        self.calls: dict[str, StepCall] = {}  # call records shared by lean deliveries
        self.ctx: Any = None  # the Context handed to steps (set by the subclass)
        self.finished = False
        self.ready: deque[str] = deque()  # steps with queued items and room to start one
        self.in_ready: set[str] = set()
        self.idle: deque[asyncio.Future[None]] = deque()
        self.workers: list[_Worker] = []
        self.busy = 0
        self.yielding = 0
        self.dispatching = True
        self.check_scheduled = False
        self._quiet: asyncio.Future[None] | None = None

    async def execute(self, spec: StepSpec, item: Item) -> None:
        """Run one delivery (the subclass routes, commits and fails the run as needed)."""
        raise NotImplementedError

    def lean_call(self, name: str) -> StepCall:
        """The call record shared by the lean deliveries of step ``name``."""
        raise NotImplementedError

    def lean_failed(self, spec: StepSpec, event: Event, call: StepCall, exc: BaseException) -> Any:
        """A lean delivery raised: re-raise a cancellation, else what to emit (or None)."""
        raise NotImplementedError

    def emit(self, out: Any, call: StepCall) -> None:
        """Route what a step returned."""
        raise NotImplementedError

    def check_stalled(self) -> None:
        """Called when nothing runs and nothing is ready: the run may be stuck."""
        raise NotImplementedError

    # -- queueing ------------------------------------------------------------------------
    def enqueue(self, name: str, item: Item) -> None:
        """Queue ``item`` for step ``name`` and make sure a worker will take it."""
        self.queues[name].append(item)
        if name not in self.in_ready:
            limit = self.limits[name]
            if limit == 0 or self.inflight[name] < limit:
                self.ready.append(name)
                self.in_ready.add(name)
        if self.idle:
            waiter = self.idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
        elif not self.workers:
            self._spawn(1)

    def enqueue_many(self, name: str, items: list[Item]) -> None:
        """``enqueue`` of several items for one step at once (a fan-out)."""
        self.queues[name].extend(items)
        if name not in self.in_ready:
            limit = self.limits[name]
            if limit == 0 or self.inflight[name] < limit:
                self.ready.append(name)
                self.in_ready.add(name)
        idle, woken = self.idle, 0
        while idle and woken < len(items):
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        if not woken and not self.workers:
            self._spawn(1)

    def want_worker(self) -> None:
        """Events were queued while every worker may be busy: check for one soon."""
        if not self.idle and not self.check_scheduled and self.ready:
            self.check_scheduled = True
            self.loop.call_soon(self._check_spawn)

    def queued_items(self) -> list[tuple[str, Item]]:
        """Deliveries not yet handled, in-flight ones first: ``(target step, item)``."""
        out = [(w.step, w.current) for w in self.workers if w.current is not None]
        for name, queue in self.queues.items():
            out.extend((name, item) for item in queue)
        return out

    # -- workers -------------------------------------------------------------------------
    def _spawn(self, n: int) -> None:
        for _ in range(n):
            w = _Worker()
            self.workers.append(w)
            w.task = self.loop.create_task(self._work(w))

    def _check_spawn(self) -> None:
        """Runs when every worker is suspended: add workers if events wait and none is free."""
        self.check_scheduled = False
        if self.finished or not self.dispatching or not self.ready or self.idle or self.yielding:
            return
        startable = 0
        for name in self.ready:
            limit = self.limits[name]
            room = limit - self.inflight[name] if limit else _SPAWN_BATCH
            startable += min(len(self.queues[name]), room)
            if startable >= _SPAWN_BATCH:
                break
        self._spawn(max(1, min(startable, _SPAWN_BATCH)))

    async def _work(self, me: _Worker) -> None:
        try:
            await self._work_loop(me)
        except asyncio.CancelledError:
            if not self.finished:
                raise
        finally:
            self.workers.remove(me)

    async def _work_loop(self, me: _Worker) -> None:
        ready, queues, inflight, limits, specs, plain = (
            self.ready,
            self.queues,
            self.inflight,
            self.limits,
            self.specs,
            self.plain,
        )
        lean, calls, ctx = self.lean, self.calls, self.ctx
        set_call = current_step.set
        current: StepCall | None = None  # the call record this task's context holds
        streak = 0
        while not self.finished:
            if not ready or not self.dispatching:
                if not await self._idle():
                    return
                continue
            name = ready.popleft()
            queue = queues[name]
            item = queue.popleft()
            n = inflight[name] = inflight[name] + 1
            limit = limits[name]
            if queue and (limit == 0 or n < limit):
                ready.append(name)
            else:
                self.in_ready.discard(name)
            if ready and not self.idle and not self.check_scheduled:
                # More work waits: if this step suspends, the check adds a worker.
                self.check_scheduled = True
                self.loop.call_soon(self._check_spawn)
            me.step = name
            me.current = item
            self.busy += 1
            try:
                if lean and plain[name]:
                    # The common case inline (an in-memory run, a step with no options, nothing
                    # traced): one coroutine frame per delivery instead of two.
                    spec = specs[name]
                    fn = spec.fn
                    call = calls.get(name) or self.lean_call(name)
                    if call is not current:  # lean calls record nothing: set, never reset
                        set_call(call)
                        current = call
                    while True:
                        try:
                            out = await fn(ctx, item[0])
                        except (Exception, asyncio.CancelledError) as exc:
                            out = self.lean_failed(spec, item[0], call, exc)
                        if out is not None and not self.finished:
                            self.emit(out, call)
                        # When this step is the only ready one, round-robin would pick it next:
                        # take its next delivery here (the same order, less bookkeeping).
                        streak += 1
                        if (
                            len(ready) != 1
                            or ready[0] != name
                            or streak >= _YIELD_EVERY
                            or self.finished
                            or not self.dispatching
                        ):
                            break
                        item = queue.popleft()  # ready is [name]: it stays so, or empties
                        if queue and (limit == 0 or n < limit):
                            if not self.idle and not self.check_scheduled:
                                self.check_scheduled = True
                                self.loop.call_soon(self._check_spawn)
                        else:
                            ready.popleft()
                            self.in_ready.discard(name)
                        me.current = item
                    streak -= 1  # counted once more below
                else:
                    await self.execute(specs[name], item)
            finally:
                self.busy -= 1
                me.current = None
                inflight[name] -= 1
            if queue and name not in self.in_ready:
                ready.append(name)
                self.in_ready.add(name)
            streak += 1
            if streak >= _YIELD_EVERY:
                streak = 0
                self.yielding += 1
                try:
                    await asyncio.sleep(0)
                finally:
                    self.yielding -= 1

    async def _idle(self) -> bool:
        """Wait for work; ``False`` means this worker should exit."""
        if self.busy == 0:
            if not self.dispatching:
                if self._quiet is not None and not self._quiet.done():
                    self._quiet.set_result(None)
            elif not self.ready:
                self.check_stalled()
        if self.finished or self.idle:
            return False  # one idle worker is enough
        waiter: asyncio.Future[None] = self.loop.create_future()
        self.idle.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self.idle.remove(waiter)
        return not self.finished

    # -- stopping and continuing ---------------------------------------------------------
    async def quiesce(self) -> None:
        """Stop dispatching and wait until no step is running."""
        self.dispatching = False
        if self.busy:
            self._quiet = self.loop.create_future()
            await self._quiet
            self._quiet = None

    def unquiesce(self) -> None:
        """Dispatch again (after a refused pause, or when a paused run continues)."""
        self.dispatching = True
        if not self.ready:
            return
        if self.idle:
            waiter = self.idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
        else:
            self._spawn(1)

    def stop_dispatching(self) -> None:
        """The run ended: cancel running steps (other than the caller's) and wake idle workers."""
        self.dispatching = False
        me = asyncio.current_task()
        for w in list(self.workers):
            if w.task is not None and w.task is not me and w.current is not None:
                w.task.cancel()
        for waiter in self.idle:
            if not waiter.done():
                waiter.set_result(None)
        self.idle.clear()
        if self._quiet is not None and not self._quiet.done():
            self._quiet.set_result(None)
