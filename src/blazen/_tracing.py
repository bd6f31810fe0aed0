"""How a run reports to a tracer, and finding one: ``blazen.otel`` when OpenTelemetry is there.

The core only knows the small :class:`RunObserver` interface. The OpenTelemetry adapter
(``blazen.otel``, extra ``otel``) is imported by name on the first run, and only when the
``opentelemetry`` package is installed; without it nothing is imported and the runtime's
hook points are a single ``is None`` check.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["AttemptScope", "RunObserver", "observer_for"]

AttemptScope = Any
"""Whatever an observer returns for an attempt it watches (a span), handed back at its end."""


class RunObserver(Protocol):
    """Told of one run's progress. Methods are cheap and never raise into the run."""

    def carrier(self) -> dict[str, str]:
        """The run's trace context, stored with a durable run so a takeover continues it."""
        ...

    def attempt_started(self, step: str, attempt: int, event_type: str) -> AttemptScope:
        """A step attempt begins (a span per attempt)."""
        ...

    def attempt_ended(
        self, scope: AttemptScope, emitted: Sequence[str], error: BaseException | None
    ) -> None:
        """The attempt ended: the event types it returned, or its error."""
        ...

    def run_ended(self, status: str, error: BaseException | None) -> None:
        """The run completed, failed, was cancelled, or (``paused``) stopped for now."""
        ...


_UNSET: Any = object()
_factory: Any = _UNSET


def observer_for(
    workflow: str, run_id: str, parent: Mapping[str, str] | None = None, *, resumed: bool = False
) -> RunObserver | None:
    """An observer for a new (or resumed) run, or ``None`` when nothing traces runs."""
    global _factory
    if _factory is _UNSET:
        _factory = _load()
    if _factory is None:
        return None
    observer: RunObserver | None = _factory(workflow, run_id, parent, resumed)
    return observer


def _load() -> Any:
    """``blazen.otel.observer`` when OpenTelemetry is installed, else ``None`` (once)."""
    try:
        if importlib.util.find_spec("opentelemetry.trace") is None:
            return None
    except (ImportError, ValueError):
        return None
    try:
        module = importlib.import_module("blazen.otel")
    except ImportError:
        return None
    return getattr(module, "observer", None)
