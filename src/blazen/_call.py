"""What a running step and its Context share: the current step call and the run's port.

This module imports nothing from blazen (events included), so every layer can use it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["DELETED", "RunPort", "StepCall", "current_step"]

DELETED: Any = object()
"""In ``StepCall.writes``: the step deleted the key."""


class StepCall:
    """One execution of a step, and (durable runs only) what it did, to commit it alone.

    ``emitted``: ``(event id, event, target step)`` deliveries; ``writes``: each context key
    written, with its stored form at the time (``DELETED`` for a removal); ``collect_ops``:
    ``("add", type, event)`` and ``("take", events)`` on the ``collect_events`` buffers;
    ``published``: stream events held back until the step's commit has landed; ``stop``:
    the ``StopEvent`` this step ended the run with (its commit then carries the result);
    ``attempt``: 1, then 2, 3... as ``retries=`` runs the step again.
    """

    __slots__ = (
        "attempt",
        "collect_ops",
        "emitted",
        "owner",
        "published",
        "step",
        "stop",
        "writes",
    )

    def __init__(self, step: str, durable: bool = False, owner: Any = None) -> None:
        self.step = step
        self.attempt = 1
        self.owner = owner  # the run (its ``session_refs`` holds live values in events)
        self.emitted: list[Any] | None = [] if durable else None
        self.writes: dict[str, Any] | None = {} if durable else None
        self.collect_ops: list[Any] | None = [] if durable else None
        self.published: list[Any] | None = [] if durable else None  # Event objects
        self.stop: Any = None  # the StopEvent


current_step: ContextVar[StepCall | None] = ContextVar("blazen_current_step", default=None)


class RunPort(Protocol):
    """What a Context needs from the run that owns it."""

    def route_from_step(self, event: Any, call: StepCall) -> None: ...

    def publish(self, event: Any) -> None: ...
