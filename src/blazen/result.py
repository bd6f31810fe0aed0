"""``WorkflowResult``: what ``await wf.run()`` and ``await handler.result()`` give back."""

from __future__ import annotations

from typing import Any

from blazen.events import Event
from blazen.session_refs import SessionRefRegistry
from blazen.usage import TokenUsage

__all__ = ["WorkflowResult"]


class WorkflowResult:
    """A finished run's terminal event: ``.result`` is the ``StopEvent``'s payload.

    ``.event`` is the event itself (``.event.to_dict() == {"result": ...}``) and
    ``.event_type`` its type name. ``usage_total``/``cost_total_usd`` exist for programs
    written for the Rust-core package (whose LLM steps fill them); here they are zero.
    """

    __slots__ = ("_cost", "_event", "_refs", "_usage")

    def __init__(
        self,
        event: Event,
        session_refs: SessionRefRegistry | None = None,
        usage_total: TokenUsage | None = None,
        cost_total_usd: float = 0.0,
    ) -> None:
        if not isinstance(event, Event):
            raise TypeError(f"WorkflowResult needs an Event, not {type(event).__name__}")
        self._event = event
        self._refs = session_refs  # made on first use when None (most results never ask)
        self._usage = usage_total if usage_total is not None else TokenUsage.zero()
        self._cost = float(cost_total_usd)

    @property
    def event(self) -> Event:
        """The terminal event (a ``StopEvent`` or a subclass of it)."""
        return self._event

    @property
    def event_type(self) -> str:
        """The terminal event's type name, ``"blazen::StopEvent"`` for a ``StopEvent``."""
        return self._event.event_type

    @property
    def result(self) -> Any:
        """The ``StopEvent``'s ``result`` (the same object when the run stayed in one process)."""
        return getattr(self._event, "result", None)

    @property
    def session_refs(self) -> SessionRefRegistry:
        """Live references the run handed out (see :class:`SessionRefRegistry`)."""
        if self._refs is None:
            self._refs = SessionRefRegistry()
        return self._refs

    @property
    def usage_total(self) -> TokenUsage:
        """Token usage of LLM calls made through the Rust-core package's models (zero here)."""
        return self._usage

    @property
    def cost_total_usd(self) -> float:
        """Cost of LLM calls made through the Rust-core package's models (zero here)."""
        return self._cost

    def __getattr__(self, name: str) -> Any:
        """Other fields of the terminal event (a ``StopEvent`` subclass may declare more)."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return getattr(self._event, name)
        except AttributeError:
            raise AttributeError(
                f"WorkflowResult has no attribute {name!r} (nor has its {self.event_type} event)"
            ) from None

    def __repr__(self) -> str:
        return f"WorkflowResult(event_type={self.event_type!r}, result={self.result!r})"
