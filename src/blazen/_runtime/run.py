"""One run: its state, routing, and how it ends, pauses and continues.

The scheduling (per-step queues drained by a small pool of worker tasks) lives in the base
class :class:`~blazen._runtime.dispatch.Dispatcher`, executing one step (its failures,
retries and what it returns) in :class:`~blazen._runtime.steps.StepRunner`; this module
adds what a run is: its Context, routing, input requests, its outcome and pausing.

Invariants of a ``Run`` (checked by the tests of ``tests/runtime``):

* ``status`` is ``running`` or ``paused`` while ``finished`` is false, and one of the
  final statuses (``completed``, ``failed``, ``cancelled``) once it is true; it never
  leaves a final status.
* ``done`` resolves exactly once, after ``finished`` became true and (durable runs) after
  every commit of the run has landed; a paused run's ``done`` stays pending.
* ``dispatching`` is false while paused or pausing and once finished: no step starts.
* ``waiting`` maps each awaited input request id to ``(asking step, request)``.
* ``hooks`` is ``None`` for in-memory runs and the durable committer otherwise; only the
  durable module sets it, before the run starts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from blazen._call import StepCall, current_step
from blazen._context_data import persistence
from blazen._meta import STEP_INPUT
from blazen._runtime.lifecycle import lifecycle_event
from blazen._runtime.steps import StepRunner
from blazen._runtime.stream import EventStream
from blazen._runtime.types import RunHooks, RunOptions, RunStatus
from blazen._tracing import observer_for
from blazen.context import Context
from blazen.errors import (
    RunStalledError,
    UnroutableEventError,
    WorkflowError,
    WorkflowTimeoutError,
)
from blazen.events import Event, InputRequestEvent, StopEvent
from blazen.session_refs import SessionRefRegistry

__all__ = ["Run"]

_STOP = StopEvent.event_type
_INPUT = InputRequestEvent.event_type


class Run(StepRunner):
    """The live state of one run and the loop that executes it."""

    __slots__ = (
        "_deadline",
        "_refs",
        "_thread",
        "_timer",
        "auto_publish",
        "done",
        "graph",
        "hooks",
        "observer",
        "options",
        "paused_snapshot",
        "pausing",
        "request_eids",
        "result_event",
        "routes",
        "run_id",
        "status",
        "stream",
        "waiting",
    )

    ctx: Context

    def __init__(
        self,
        options: RunOptions,
        run_id: str,
        trace_parent: Mapping[str, str] | None = None,
        *,
        resumed: bool = False,
    ) -> None:
        graph = options.graph
        super().__init__(asyncio.get_running_loop(), graph.steps, options.limits, options.plain)
        self.options = options
        self.run_id = run_id
        self.graph = graph
        self.routes = graph.routes
        self.ctx = Context(run_id, self)
        self._refs: SessionRefRegistry | None = None  # live values its events carry
        self.finished = False
        self.status: RunStatus = "running"
        self.waiting: dict[str, tuple[str | None, InputRequestEvent]] = {}
        self.request_eids: dict[str, str] = {}  # durable runs: request id -> its stored event
        self.stream = EventStream()
        self.done: asyncio.Future[StopEvent] = self.loop.create_future()
        self.pausing: asyncio.Future[Any] | None = None  # the pause under way, if any
        self.paused_snapshot: Any = None  # what pause() returned, for a repeated call
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._thread = threading.get_ident()
        self.hooks: RunHooks | None = None
        self.auto_publish = options.auto_publish
        self.progress = 0  # steps completed, for lifecycle progress events
        self.result_event: StopEvent | None = None
        self.observer = observer_for(options.name, run_id, trace_parent, resumed=resumed)
        self.lean = self.observer is None and not self.auto_publish  # until hooks are set

    @property
    def session_refs(self) -> SessionRefRegistry:
        """The live values the run's events carry (made on first use)."""
        if self._refs is None:
            self._refs = SessionRefRegistry()
        return self._refs

    def refs_if_any(self) -> SessionRefRegistry | None:
        """The registry if the run made one (``None``: it never held a live value)."""
        return self._refs

    # -- starting ----------------------------------------------------------------------
    def start(self) -> None:
        """Arm the run timeout and start a worker if anything is queued."""
        if self.options.timeout is not None:
            self._arm_timer(self.options.timeout)
        for _source, request in self.waiting.values():
            self.stream.publish(request)  # a resumed run shows what it still waits for
        if self.ready and not self.workers:
            self._spawn(1)
        elif not self.ready and not self.waiting:
            self.check_stalled()

    def route(self, event: Event, source: str | None, call: StepCall | None = None) -> None:
        """Deliver ``event`` to every step that accepts it (or end / wait the run)."""
        et = event.event_type
        if self.auto_publish:
            self.stream.publish(lifecycle_event("event_routed", event_type=et))
        if et == _STOP:
            self.finish(event, call)  # type: ignore[arg-type]
            return
        if et == _INPUT:
            self._wait_for_input(event, source, call)  # type: ignore[arg-type]
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
        """Put ``event`` on the stream; a durable run holds it until its step's commit lands."""
        if self.hooks is not None:
            call = current_step.get()
            if call is not None and call.published is not None:
                call.published.append(event)
                return
        if threading.get_ident() == self._thread:
            self.stream.publish(event)
        else:
            self.loop.call_soon_threadsafe(self.stream.publish, event)

    # -- human input -----------------------------------------------------------------------
    def _wait_for_input(
        self, event: InputRequestEvent, source: str | None, call: StepCall | None
    ) -> None:
        self.waiting[event.request_id] = (source, event)
        if self.hooks is not None and call is not None and call.emitted is not None:
            # Kept in the run's history (no step takes it); the answer's commit consumes it.
            eid = self.hooks.new_event_id()
            call.emitted.append((eid, event, None))
            self.request_eids[event.request_id] = eid
        if call is not None and call.published is not None:
            call.published.append(event)  # shown once the asking step's commit has landed
        else:
            self.stream.publish(event)
        if self.hooks is not None:
            self.hooks.waiting_changed()

    def respond(self, event: Event, request_id: str, consumed: str | None = None) -> None:
        """Deliver an input response; the run must be waiting for ``request_id``.

        ``consumed``: the stored id of the response (an answer posted by another process).
        """
        if request_id not in self.waiting:
            raise WorkflowError(
                f"run {self.run_id} is not waiting for input request {request_id!r} "
                f"(waiting for {sorted(self.waiting)})"
            )
        del self.waiting[request_id]
        hooks = self.hooks
        if hooks is not None:
            hooks.waiting_changed()
        call = StepCall(STEP_INPUT, hooks is not None, self)
        self.route(event, None, call)
        self.want_worker()
        if hooks is not None:
            answered = (consumed, self.request_eids.pop(request_id, None))
            hooks.step_done(STEP_INPUT, tuple(x for x in answered if x), call)

    def status_now(self) -> RunStatus:
        """The status a caller sees: ``waiting`` while only an input answer can move the run."""
        if self.status == "running" and self.waiting and not self.busy and not self.ready:
            return "waiting"
        return self.status

    # -- ending ----------------------------------------------------------------------------
    def finish(self, stop: StopEvent, call: StepCall | None = None) -> None:
        if self.finished:
            return
        self.result_event = stop
        if call is not None:
            call.stop = stop
        self._ended("completed", None)
        if self.hooks is not None:
            self.hooks.finished(None, self.done, call)
        else:
            self.done.set_result(stop)
            self.stream.close()

    def fail(self, error: BaseException, status: RunStatus = "failed") -> None:
        if self.finished:
            return
        self._ended(status, error)
        if self.hooks is not None:
            self.hooks.finished(error, self.done, None)
        else:
            self.done.set_exception(error)
            self.stream.close()

    def check_stalled(self) -> None:
        if self.finished or self.busy or self.ready or self.status == "paused":
            return
        if self.waiting:
            if self.hooks is not None:
                self.hooks.idle_waiting()  # only an answer can move the run now
            return
        self.fail(
            RunStalledError(
                f"run {self.run_id} of workflow {self.options.name!r} stalled: no event is "
                f"pending, no step is running and no StopEvent was returned"
            )
        )

    def _ended(self, status: RunStatus, error: BaseException | None) -> None:
        """The run ends with ``status``: stop everything and close its trace span."""
        self.status = status
        self._end()
        if self.observer is not None:
            self.observer.run_ended(status, error)

    def _end(self) -> None:
        self.finished = True
        persistence(self.ctx).detach()  # no routing after the end; frees the run <-> ctx cycle
        if self._timer is not None:
            self._timer.cancel()
        self.stop_dispatching()

    def hand_over(self) -> None:
        """Another process continues the run: stop here, leaving ``done`` to the caller.

        The trace's span for this process's part of the run ends here (the status the run
        had; whoever continues it continues the trace)."""
        if not self.finished:
            self._end()
            if self.observer is not None:
                self.observer.run_ended(self.status_now(), None)

    def halt(self, status: RunStatus, error: BaseException) -> None:
        """End an aborted run: wake everyone, fail ``done`` quietly, close the stream."""
        if self.finished:
            return
        self._ended(status, error)
        if self.hooks is None:
            self.stream.close()
        if not self.done.done():
            self.done.set_exception(error)
            self.done.exception()  # mark retrieved: an abort is not an error to log

    # -- the timeout and pausing -------------------------------------------------------------
    def _arm_timer(self, seconds: float) -> None:
        self._deadline = self.loop.time() + seconds
        self._timer = self.loop.call_later(seconds, self._on_timeout)

    def _on_timeout(self) -> None:
        self.fail(
            WorkflowTimeoutError(
                f"run {self.run_id} of workflow {self.options.name!r} timed out: it did not "
                f"finish within {self.options.timeout} s"
            )
        )

    def park(self) -> None:
        """After a pause: stay quiet (no dispatch, the timeout stopped) until ``unpark``."""
        self.status = "paused"
        if self.observer is not None:
            self.observer.run_ended("paused", None)
        if self._timer is not None and self._deadline is not None:
            self._timer.cancel()
            self._timer = None
            self._deadline = max(self._deadline - self.loop.time(), 0.0)  # time left

    def unpark(self) -> None:
        """Continue a paused run in this process (its trace continues too)."""
        self.status = "running"
        if self.observer is not None:
            parent = self.observer.carrier()
            self.observer = observer_for(self.options.name, self.run_id, parent, resumed=True)
        self.paused_snapshot = None
        if self._deadline is not None:
            self._arm_timer(self._deadline)
        self.unquiesce()
        if not self.ready and not self.busy:
            self.check_stalled()
