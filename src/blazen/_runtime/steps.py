"""Executing one delivery of a step: calling it, its failures and retries, what it returns.

:class:`StepRunner` sits between the scheduler (:class:`~blazen._runtime.dispatch.Dispatcher`)
and the run (:class:`~blazen._runtime.run.Run`), which provides the attributes declared
below and the ``route``/``fail`` methods.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from blazen._call import StepCall, current_step
from blazen._graph import Graph
from blazen._runtime.dispatch import Dispatcher
from blazen._runtime.failures import (
    FAILED_TYPE,
    cancel_requested,
    commit_error,
    error_type,
    failed_event,
    retry_notice,
    step_error,
)
from blazen._runtime.invoke import invoke
from blazen._runtime.lifecycle import lifecycle_event, step_completed
from blazen._runtime.stream import EventStream
from blazen._runtime.types import Item, RunHooks, RunStatus
from blazen._tracing import RunObserver
from blazen.errors import StepError, WorkflowError
from blazen.events import Event, InputRequestEvent, StopEvent
from blazen.step import StepSpec

__all__ = ["StepRunner"]

_ENGINE_TYPES = frozenset({StopEvent.event_type, InputRequestEvent.event_type})


class StepRunner(Dispatcher):
    """How a run executes one delivery; the run supplies its state and routing."""

    __slots__ = ("progress",)

    run_id: str
    graph: Graph
    hooks: RunHooks | None
    observer: RunObserver | None
    stream: EventStream
    status: RunStatus
    auto_publish: bool
    routes: dict[str, tuple[StepSpec, ...]]
    progress: int  # steps completed, for lifecycle progress events (set by the run)

    def route(self, event: Event, source: str | None, call: StepCall | None = None) -> None:
        """Deliver ``event`` (the run routes it)."""
        raise NotImplementedError

    def fail(self, error: BaseException, status: RunStatus = "failed") -> None:
        """End the run with ``error`` (the run does)."""
        raise NotImplementedError

    async def execute(self, spec: StepSpec, item: Item) -> None:
        """Run one delivery of ``spec``: call it, route what it returns, commit it."""
        event, _source, eid = item
        hooks = self.hooks
        if hooks is not None and not hooks.lease_fresh():
            await hooks.lease_checked()  # the process stalled past its lease: confirm it first
            if self.finished:
                return
        call = StepCall(spec.name, hooks is not None, self)
        if self.auto_publish:
            self.stream.publish(
                lifecycle_event("step_started", event_type=event.event_type, step_name=spec.name)
            )
            began = time.monotonic()
        token = current_step.set(call)
        try:
            if self.plain[spec.name] and self.observer is None:
                out = await spec.fn(self.ctx, event)  # the common case: no options to apply
            else:
                out = await invoke(spec, self.ctx, event, call, self._attempt_failed, self.observer)
        except asyncio.CancelledError as exc:
            if self.finished or cancel_requested():
                raise  # the run ended, or the loop is shutting down: not the step's fault
            # The step itself raised CancelledError (e.g. awaited a cancelled future).
            self.fail(step_error(spec, self.run_id, exc, "the step raised CancelledError"))
            return
        except Exception as exc:
            out = self._failed_for_good(spec, event, call, exc)
            if out is None:
                return
        finally:
            current_step.reset(token)
        if self.finished and call.stop is None:
            return
        if self.auto_publish:  # before what the step returned is routed, as upstream
            self._publish_completed(spec.name, began)
        if out is not None:
            self.emit(out, call)
        if hooks is not None and self.status != "failed":
            try:
                backlog = hooks.step_done(spec.name, (eid,) if eid else (), call)
            except Exception as exc:  # e.g. an emitted event that cannot be encoded
                self.fail(exc if isinstance(exc, WorkflowError) else commit_error(spec, exc))
                return
            if backlog is not None:
                await backlog

    def lean_call(self, name: str) -> StepCall:
        call = self.calls[name] = StepCall(name, False, self)
        return call

    def lean_failed(self, spec: StepSpec, event: Event, call: StepCall, exc: BaseException) -> Any:
        if isinstance(exc, asyncio.CancelledError):
            if self.finished or cancel_requested():
                raise exc  # the run ended, or the loop is shutting down
            self.fail(step_error(spec, self.run_id, exc, "the step raised CancelledError"))
            return None
        assert isinstance(exc, Exception)
        return self._failed_for_good(spec, event, call, exc)

    def _failed_for_good(
        self, spec: StepSpec, event: Event, call: StepCall, exc: Exception
    ) -> Event | None:
        """A step's final failure: a ``StepFailedEvent`` to route when a step handles those,
        else ``None`` after failing the run with the step's error. A durable run's history
        records the failed attempt either way."""
        if self.hooks is not None:
            self.hooks.attempt_failed(spec.name, call.attempt, f"{error_type(exc)}: {exc}", None)
        if self.graph.handles_failures and FAILED_TYPE not in spec.accepts:
            return failed_event(spec, event, call, exc)
        self.fail(step_error(spec, self.run_id, exc, f"{error_type(exc)}: {exc}"))
        return None

    def _attempt_failed(self, spec: StepSpec, call: StepCall, exc: Exception, delay: float) -> None:
        """A failed attempt that will be retried: log it, stream it, record it (durable runs)."""
        notice = retry_notice(self.run_id, spec, call, exc, delay)
        if self.hooks is not None:
            text = f"{notice.error_type}: {notice.error_message}"
            self.hooks.attempt_failed(spec.name, call.attempt, text, notice)
        else:
            self.stream.publish(notice)

    def _publish_completed(self, step_name: str, began: float) -> None:
        self.progress += 1
        for event in step_completed(step_name, began, self.progress, self.run_id):
            self.stream.publish(event)

    def _route_list(self, events: list[Event] | tuple[Event, ...], source: str) -> bool:
        """Route a returned list in one pass (a lean run: nothing records each delivery);
        ``False``, having done nothing, when an item needs ``route`` (a StopEvent, an input
        request, an unroutable type) or is not an event."""
        routes = self.routes
        plan: dict[str, list[Item]] = {}
        seen: type | None = None  # the class of the previous event: its batches are known
        batches: list[list[Item]] = []
        for ev in events:
            t = type(ev)
            if t is not seen:
                if not issubclass(t, Event):
                    return False
                et = t.event_type  # an event's type is its class's (retyping swaps the class)
                targets = routes.get(et)
                if targets is None or et in _ENGINE_TYPES:
                    return False
                batches = [plan.setdefault(spec.name, []) for spec in targets]
                seen = t
            item = (ev, source, None)
            for batch in batches:
                batch.append(item)
        for name, items in plan.items():
            self.enqueue_many(name, items)
        return True

    def emit(self, out: Any, call: StepCall) -> None:
        if isinstance(out, Event):
            self.route(out, call.step, call)
            return
        if isinstance(out, (list, tuple)):
            if self.lean and self._route_list(out, call.step):
                return
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
