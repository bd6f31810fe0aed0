"""The small types shared by the run loop and its persistence: options, items, hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from blazen._call import StepCall
from blazen._graph import Graph
from blazen.events import Event, StopEvent

__all__ = ["Item", "RunHooks", "RunOptions", "Status"]

# A queued delivery: (event, source step or None, durable event id or None).
Item = tuple[Event, "str | None", "str | None"]
Status = Literal["running", "pausing", "paused", "completed", "failed", "cancelled"]


class RunOptions:
    """Settings of a run that come from its ``Workflow``."""

    __slots__ = ("graph", "name", "session_pause_policy", "timeout")

    def __init__(
        self, name: str, graph: Graph, timeout: float | None, session_pause_policy: str
    ) -> None:
        self.name = name
        self.graph = graph
        self.timeout = timeout
        self.session_pause_policy = session_pause_policy


class RunHooks:
    """How a durable run reports its progress; in-memory runs have none (``run.hooks`` None)."""

    def new_event_id(self) -> str:
        """A unique id for one delivery, so a commit can name what it consumed."""
        raise NotImplementedError

    def step_done(self, step: str, consumed: str | None, call: StepCall) -> Awaitable[None] | None:
        """Commit one finished step; may return an awaitable to slow a run down (backlog)."""
        raise NotImplementedError

    def waiting_changed(self) -> None:
        """The set of awaited input requests changed."""
        raise NotImplementedError

    def finished(
        self, stop: StopEvent | None, error: BaseException | None, done: asyncio.Future[StopEvent]
    ) -> None:
        """The run ended: commit its outcome, then resolve ``done``."""
        raise NotImplementedError

    async def halted(self, status: str) -> None:
        """The run was paused or aborted: commit that status and wait for the store."""
        raise NotImplementedError
