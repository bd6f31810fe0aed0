"""One run: per-step queues drained by a small pool of worker tasks.

There is no task per event. A worker pops a ready step, runs it and routes what it
returns; while steps never suspend, one worker drains everything (a chain or a fan-out
costs no event-loop round trip per event). When running steps do suspend and events
are still waiting, a scheduled check adds workers, so suspended steps overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from blazen._call import StepCall, current_step
from blazen._runtime.invoke import invoke
from blazen._runtime.stream import EventStream
from blazen._runtime.types import Item, RunHooks, RunOptions, Status
from blazen.context import Context
from blazen.errors import (
    StepError,
    StoreError,
    UnroutableEventError,
    WorkflowError,
    WorkflowTimeoutError,
)
from blazen.events import Event, InputRequestEvent, StopEvent
from blazen.step import StepSpec

__all__ = ["Run"]

_STOP = StopEvent.event_type
_INPUT = InputRequestEvent.event_type
_YIELD_EVERY = 64  # steps a worker runs back to back before letting others in
_SPAWN_BATCH = 64


class _Worker:
    __slots__ = ("current", "task")

    def __init__(self) -> None:
        self.current: tuple[str, Item] | None = None
        self.task: asyncio.Task[None] | None = None


class Run:
    """The live state of one run and the loop that executes it."""

    def __init__(self, options: RunOptions, run_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.options = options
        self.run_id = run_id
        graph = options.graph
        self.specs = graph.steps
        self.routes = graph.routes
        self.ctx = Context(run_id, self)
        self.queues: dict[str, deque[Item]] = {n: deque() for n in self.specs}
        self.inflight: dict[str, int] = dict.fromkeys(self.specs, 0)
        self.limits: dict[str, int] = {n: s.max_concurrency for n, s in self.specs.items()}
        self.ready: deque[str] = deque()
        self.in_ready: set[str] = set()
        self.idle: deque[asyncio.Future[None]] = deque()
        self.workers: list[_Worker] = []
        self.busy = 0
        self.yielding = 0
        self.dispatching = True
        self.finished = False
        self.status: Status = "running"
        self.check_scheduled = False
        self.waiting: dict[str, tuple[str | None, InputRequestEvent]] = {}
        self.stream = EventStream()
        self.done: asyncio.Future[StopEvent] = self.loop.create_future()
        self._quiet: asyncio.Future[None] | None = None
        self.pausing: asyncio.Future[Any] | None = None  # the pause under way, if any
        self.paused_snapshot: Any = None  # what pause() returned, for a repeated call
        self._timer: asyncio.TimerHandle | None = None
        self._thread = threading.get_ident()
        self.hooks: RunHooks | None = None

    # -- starting ----------------------------------------------------------------------
    def start(self) -> None:
        """Arm the run timeout and start a worker if anything is queued."""
        if self.options.timeout is not None:
            self._timer = self.loop.call_later(self.options.timeout, self._on_timeout)
        for _source, request in self.waiting.values():
            self.stream.publish(request)  # a resumed run shows what it still waits for
        if self.ready and not self.workers:
            self._spawn(1)
        elif not self.ready and not self.waiting:
            self._check_stalled()

    def route(self, event: Event, source: str | None, call: StepCall | None = None) -> None:
        """Deliver ``event`` to every step that accepts it (or end / wait the run)."""
        et = event.event_type
        if et == _STOP:
            self.finish(event, call)  # type: ignore[arg-type]
            return
        if et == _INPUT:
            self._wait_for_input(event, source)  # type: ignore[arg-type]
            return
        targets = self.routes.get(et)
        if targets is None:
            self.fail(UnroutableEventError(et, source))
            return
        hooks = self.hooks
        for spec in targets:
            eid = None
            if hooks is not None:
                eid = hooks.new_event_id()
                if call is not None and call.emitted is not None:
                    call.emitted.append((eid, event, spec.name))
            self.enqueue(spec.name, (event, source, eid))

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

    def want_worker(self) -> None:
        """Events were queued while every worker may be busy: check for one soon."""
        if not self.idle and not self.check_scheduled and self.ready:
            self.check_scheduled = True
            self.loop.call_soon(self._check_spawn)

    # -- RunPort (called by the Context) -------------------------------------------------
    def route_from_step(self, event: Event, call: StepCall) -> None:
        if self.finished:
            return
        if threading.get_ident() == self._thread:
            self._route_sent(event, call)
        else:  # a plain-def step in a worker thread: route on the loop, in order
            self.loop.call_soon_threadsafe(self._route_sent, event, call)

    def _route_sent(self, event: Event, call: StepCall) -> None:
        if self.finished:
            return
        self.route(event, call.step, call)
        self.want_worker()  # the sending step still runs: another worker may be needed

    def publish(self, event: Event) -> None:
        if threading.get_ident() == self._thread:
            self.stream.publish(event)
        else:
            self.loop.call_soon_threadsafe(self.stream.publish, event)

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
        ready, queues, inflight, limits, specs = (
            self.ready,
            self.queues,
            self.inflight,
            self.limits,
            self.specs,
        )
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
            me.current = (name, item)
            self.busy += 1
            try:
                await self._execute(specs[name], item)
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
                self._check_stalled()
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

    def _check_stalled(self) -> None:
        if self.finished or self.waiting or self.busy or self.ready:
            return
        self.fail(
            WorkflowError(
                f"run {self.run_id} of workflow {self.options.name!r} stalled: no event is "
                f"pending, no step is running and no StopEvent was returned"
            )
        )

    # -- executing one step ------------------------------------------------------------
    async def _execute(self, spec: StepSpec, item: Item) -> None:
        event, _source, eid = item
        hooks = self.hooks
        call = StepCall(spec.name, hooks is not None)
        token = current_step.set(call)
        try:
            if spec.is_async and spec.timeout is None and not spec.retries:
                out = await spec.fn(self.ctx, event)  # the common case, one frame less
            else:
                out = await invoke(spec, self.ctx, event)
        except asyncio.CancelledError as exc:
            if self.finished or _cancel_requested():
                raise  # the run ended, or the loop is shutting down: not the step's fault
            # The step itself raised CancelledError (e.g. awaited a cancelled future).
            err = StepError(spec.name, self.run_id, "the step raised CancelledError")
            err.__cause__ = exc
            self.fail(err)
            return
        except Exception as exc:
            err = StepError(spec.name, self.run_id, f"{type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self.fail(err)
            return
        finally:
            current_step.reset(token)
        if self.finished:
            return
        if out is not None:
            self._emit(out, call)
        if hooks is not None and self.status != "failed":
            try:
                backlog = hooks.step_done(spec.name, eid, call)
            except Exception as exc:  # e.g. an emitted event that cannot be encoded
                self.fail(exc if isinstance(exc, WorkflowError) else _commit_error(spec, exc))
                return
            if backlog is not None:
                await backlog

    def _emit(self, out: Any, call: StepCall) -> None:
        if isinstance(out, Event):
            self.route(out, call.step, call)
            return
        if isinstance(out, (list, tuple)):
            bad = [o for o in out if not isinstance(o, Event)]
            if not bad:
                for ev in out:
                    if self.finished:
                        return
                    self.route(ev, call.step, call)
                return
            out = bad[0]
        err = StepError(
            call.step,
            self.run_id,
            f"returned {type(out).__name__}; a step returns an Event, a list of events or None",
        )
        err.__cause__ = TypeError(f"unexpected step result {out!r}")
        self.fail(err)

    def _wait_for_input(self, event: InputRequestEvent, source: str | None) -> None:
        self.waiting[event.request_id] = (source, event)
        self.stream.publish(event)
        if self.hooks is not None:
            self.hooks.waiting_changed()

    def respond(self, event: Event, request_id: str) -> None:
        """Deliver an input response; the run must be waiting for ``request_id``."""
        if request_id not in self.waiting:
            raise WorkflowError(
                f"run {self.run_id} is not waiting for input request {request_id!r} "
                f"(waiting for {sorted(self.waiting)})"
            )
        del self.waiting[request_id]
        if self.hooks is not None:
            self.hooks.waiting_changed()
        call = StepCall("<input>", self.hooks is not None)
        self.route(event, None, call)
        self.want_worker()
        if self.hooks is not None:
            self.hooks.step_done("<input>", None, call)

    # -- ending ----------------------------------------------------------------------------
    def finish(self, stop: StopEvent, call: StepCall | None = None) -> None:
        if self.finished:
            return
        self.status = "completed"
        self._end(call)
        if self.hooks is not None:
            self.hooks.finished(stop, None, self.done)
        else:
            self.done.set_result(stop)

    def fail(self, error: BaseException, status: Status = "failed") -> None:
        if self.finished:
            return
        self.status = status
        self._end(None)
        if self.hooks is not None:
            self.hooks.finished(None, error, self.done)
        else:
            self.done.set_exception(error)

    def _end(self, call: StepCall | None) -> None:
        self.finished = True
        self.ctx._port = None  # no routing after the end; also frees run <-> ctx cycle
        self.dispatching = False
        if self._timer is not None:
            self._timer.cancel()
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
        self.stream.close()

    def _on_timeout(self) -> None:
        self.fail(
            WorkflowTimeoutError(
                f"run {self.run_id} of workflow {self.options.name!r} did not finish "
                f"within {self.options.timeout} s"
            )
        )

    # -- pausing ---------------------------------------------------------------------------
    async def quiesce(self) -> None:
        """Stop dispatching and wait until no step is running."""
        self.dispatching = False
        if self.busy:
            self._quiet = self.loop.create_future()
            await self._quiet
            self._quiet = None

    def unquiesce(self) -> None:
        """Resume dispatching after a refused pause."""
        self.dispatching = True
        if not self.ready:
            return
        if self.idle:
            waiter = self.idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
        else:
            self._spawn(1)

    def halt(self, status: Status, error: BaseException) -> None:
        """End a paused or aborted run: wake everyone, fail ``done`` quietly."""
        if self.finished:
            return
        self.status = status
        self._end(None)
        if not self.done.done():
            self.done.set_exception(error)
            self.done.exception()  # mark retrieved: pausing is not an error to log

    def queued_items(self) -> list[tuple[str, Item]]:
        """Deliveries not yet handled, in-flight ones first: ``(target step, item)``."""
        out = [w.current for w in self.workers if w.current is not None]
        for name, queue in self.queues.items():
            out.extend((name, item) for item in queue)
        return out


def _commit_error(spec: StepSpec, exc: Exception) -> WorkflowError:
    err = StoreError(f"the commit of step {spec.name!r} failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


def _cancel_requested() -> bool:
    """Whether this task was asked to cancel (3.11+); on 3.10 there is no way to tell."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or bool(cancelling())
