"""OpenTelemetry spans for blazen runs (extra ``otel``): a span per run, one per step attempt.

blazen imports this module by name on a process's first run, and only when the
``opentelemetry`` package is installed (see :mod:`blazen._tracing`). It traces nothing
until the application configures a tracer provider (``opentelemetry.trace.
set_tracer_provider``, before or after ``import blazen``) or hands one to
:func:`use_tracer_provider`; until then :func:`observer` returns ``None`` and the runtime
pays one ``is None`` check per hook point.

A run's span is a child of the span current where the run was started. Its trace context
(W3C ``traceparent``) is stored with the run, so a run resumed from a snapshot, taken over
from a store by another process, or continued after ``pause()`` starts a new run span that
is a child of the stored one: one trace across every process that worked on the run.
Tracing never breaks a run: any error of the tracing library is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import blazen
from blazen._tracing import RunObserver

__all__ = ["SCOPE", "SpanObserver", "observer", "tracer", "use_tracer_provider"]

SCOPE = "blazen"
"""The instrumentation scope (tracer name) of blazen's spans."""

log = logging.getLogger("blazen.otel")
_PROPAGATOR = TraceContextTextMapPropagator()  # W3C, whatever OTEL_PROPAGATORS says
_INERT = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)  # no provider configured
_override: list[TracerProvider | None] = [None]
_UNKNOWN: Any = object()
# A provider named by this variable is loaded by the API on first use (read once here).
_FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_cached: list[tuple[TracerProvider, Tracer]] = []


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Trace blazen's runs with ``provider`` instead of the global one (``None``: the global)."""
    _override[0] = provider


def tracer() -> Tracer | None:
    """The tracer for blazen's spans, or ``None`` while no real tracer provider is set.

    Looked up for every run, so a provider configured after ``import blazen`` (or after the
    first run) is picked up; the tracer is cached per provider.
    """
    provider = _override[0]
    if provider is None:
        if getattr(trace, "_TRACER_PROVIDER", _UNKNOWN) is None and not _FROM_ENV:
            return None  # no global provider set: skip get_tracer_provider's env lookup
        provider = trace.get_tracer_provider()
    if isinstance(provider, _INERT):
        return None
    if not _cached or _cached[0][0] is not provider:
        _cached[:] = [(provider, provider.get_tracer(SCOPE, blazen.__version__))]
    found = _cached[0][1]
    return None if isinstance(found, trace.NoOpTracer) else found  # e.g. OTEL_SDK_DISABLED


def observer(
    workflow: str, run_id: str, parent: Mapping[str, str] | None, resumed: bool
) -> RunObserver | None:
    """Spans for a new (or resumed) run, or ``None`` when no tracer provider is configured."""
    try:
        found = tracer()
        if found is None:
            return None
        return SpanObserver(found, workflow, run_id, parent, resumed)
    except Exception:
        _dropped("starting a run span")
        return None


class SpanObserver:
    """One run's spans: the run span, and a child span for each step attempt."""

    __slots__ = ("_attrs", "_carrier", "_context", "_ended", "_span", "_tracer")

    def __init__(
        self,
        tracer: Tracer,
        workflow: str,
        run_id: str,
        parent: Mapping[str, str] | None,
        resumed: bool,
    ) -> None:
        self._tracer = tracer
        self._attrs: dict[str, Any] = {"blazen.run_id": run_id, "blazen.workflow": workflow}
        attrs = dict(self._attrs)
        if resumed:
            attrs["blazen.resumed"] = True
        context, links = _parent_of(parent)
        self._span: Span = tracer.start_span(
            f"blazen.run {workflow}",
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            links=links,
        )
        self._context = trace.set_span_in_context(self._span, otel_context.Context())
        self._carrier: dict[str, str] | None = None
        self._ended = False

    @property
    def span(self) -> Span:
        """The run's span (this process's part of the run)."""
        return self._span

    def carrier(self) -> dict[str, str]:
        """The run span's context as W3C headers (``traceparent``), to store with the run."""
        if self._carrier is None:
            out: dict[str, str] = {}
            try:
                _PROPAGATOR.inject(out, context=self._context)
            except Exception:
                _dropped("writing the trace context")
            self._carrier = out
        return dict(self._carrier)

    def attempt_started(self, step: str, attempt: int, event_type: str) -> Any:
        """Start the attempt's span (a child of the run's) and make it current for the step."""
        try:
            attrs = {
                **self._attrs,
                "blazen.step": step,
                "blazen.attempt": attempt,
                "blazen.input_event": event_type,
            }
            span = self._tracer.start_span(
                f"blazen.step {step}",
                context=self._context,
                kind=SpanKind.INTERNAL,
                attributes=attrs,
            )
            token = otel_context.attach(trace.set_span_in_context(span))
        except Exception:
            _dropped("starting a step span")
            return None
        return span, token

    def attempt_ended(
        self, scope: Any, emitted: Sequence[str], error: BaseException | None
    ) -> None:
        """End the attempt's span: the events it returned, or its error."""
        if scope is None:
            return
        span, token = scope
        try:
            otel_context.detach(token)
            if error is None:
                span.set_attribute("blazen.events_emitted", list(emitted))
            else:
                _record_error(span, error)
            span.end()
        except Exception:
            _dropped("ending a step span")

    def run_ended(self, status: str, error: BaseException | None) -> None:
        """End the run's span with the run's status (and its error when it failed; a
        cancelled or paused run is not an error)."""
        if self._ended:
            return
        self._ended = True
        try:
            self._span.set_attribute("blazen.status", status)
            if error is not None and status == "failed":
                _record_error(self._span, error)
            self._span.end()
        except Exception:
            _dropped("ending a run span")


def _parent_of(parent: Mapping[str, str] | None) -> tuple[otel_context.Context | None, list[Link]]:
    """Where a run span goes: under the stored context of a resumed run (linked to the span
    current here, if any), else under the current span."""
    headers = {k: v for k, v in (parent or {}).items() if isinstance(v, str)}
    if not headers:
        return None, []
    context = _PROPAGATOR.extract(headers)
    stored = trace.get_current_span(context).get_span_context()
    here = trace.get_current_span().get_span_context()
    links = [Link(here)] if here.is_valid and here.trace_id != stored.trace_id else []
    return context, links


def _record_error(span: Span, error: BaseException) -> None:
    """Record ``error`` on ``span``: an exception event and status ERROR; a cancellation is
    only marked (it is not the step's or the run's failure)."""
    if _is_cancellation(error):
        span.set_attribute("blazen.cancelled", True)
        return
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def _is_cancellation(error: BaseException) -> bool:
    return isinstance(error, asyncio.CancelledError)


_warned: set[str] = set()


def _dropped(what: str) -> None:
    """A tracing error: log it (a warning the first time per kind, then debug) and go on."""
    level = logging.DEBUG if what in _warned else logging.WARNING
    _warned.add(what)
    log.log(level, "blazen.otel: %s failed; the run goes on untraced there", what, exc_info=True)
