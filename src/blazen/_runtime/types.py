"""The small types shared by the run loop and its persistence: options, items, hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from blazen._call import StepCall
from blazen._graph import Graph
from blazen.events import Event
from blazen.status import RunStatus

__all__ = ["Item", "RunHooks", "RunOptions", "RunStatus"]

# A queued delivery: (event, source step or None, durable event id or None).
Item = tuple[Event, "str | None", "str | None"]


class RunOptions:
    """Settings of a run that come from its ``Workflow``."""

    __slots__ = (
        "auto_publish",
        "graph",
        "limits",
        "name",
        "plain",
        "session_pause_policy",
        "timeout",
    )

    def __init__(
        self,
        name: str,
        graph: Graph,
        timeout: float | None,
        session_pause_policy: Any,
        auto_publish: bool = False,
    ) -> None:
        self.name = name
        self.graph = graph
        self.timeout = timeout
        self.session_pause_policy = session_pause_policy
        self.auto_publish = auto_publish
        specs = graph.steps
        self.limits = {n: spec.max_concurrency for n, spec in specs.items()}  # shared, read-only
        # Steps called directly: async, no timeout, no retries (no per-call options to apply).
        self.plain = {
            n: s.is_async and s.timeout is None and not s.retries for n, s in specs.items()
        }


class RunHooks:
    """How a durable run reports its progress; in-memory runs have none (``run.hooks`` None)."""

    def new_event_id(self) -> str:
        """A unique id for one delivery, so a commit can name what it consumed."""
        raise NotImplementedError

    def step_done(
        self, step: str, consumed: tuple[str, ...], call: StepCall
    ) -> Awaitable[None] | None:
        """Commit one finished step (``consumed``: the stored events it took); may return an
        awaitable to slow a run down (backlog)."""
        raise NotImplementedError

    def attempt_failed(self, step: str, attempt: int, error: str, notice: Event | None) -> None:
        """Record a failed attempt (``notice``, streamed once stored, when it is retried)."""
        raise NotImplementedError

    def waiting_changed(self) -> None:
        """The set of awaited input requests changed."""
        raise NotImplementedError

    def finished(
        self, error: BaseException | None, done: asyncio.Future[Any], carrier: StepCall | None
    ) -> None:
        """The run ended (``error`` None: completed): commit its outcome, then resolve ``done``.

        A completed run's result rides on the commit of ``carrier``, the step call that
        returned the ``StopEvent`` (``StepCall.stop``), so its work and the result land at
        once; ``carrier`` is None when no step call ended the run.
        """
        raise NotImplementedError

    async def halted(self, status: RunStatus) -> None:
        """The run was paused or aborted: commit that status and wait for the store."""
        raise NotImplementedError

    async def resumed(self) -> None:
        """A paused run continues in this process (``resume_in_place``)."""
        raise NotImplementedError

    def idle_waiting(self) -> None:
        """Nothing runs and nothing is queued: only an answer to an input request can move
        the run (a durable run then releases its lease)."""

    def lease_fresh(self) -> bool:
        """Whether this process surely still holds the run (a step may start)."""
        return True

    async def lease_checked(self) -> None:
        """Wait until the run's lease is confirmed (or lost: the run then ends)."""

    async def before_input(self) -> None:
        """Called before an answer is delivered in this process (a durable run that released
        its lease claims it again)."""
