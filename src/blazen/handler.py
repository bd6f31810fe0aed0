"""``WorkflowHandler``: the caller's grip on one run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any

from blazen.errors import WorkflowError
from blazen.events import Event, InputResponseEvent, StopEvent

if TYPE_CHECKING:
    from blazen._runtime.run import Run
    from blazen.snapshot import WorkflowSnapshot

__all__ = ["WorkflowHandler"]


class WorkflowHandler:
    """Returned at once by ``wf.run()``: await the result, stream events, pause or abort."""

    __slots__ = ("_run",)

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def run_id(self) -> str:
        """The run's id (a UUID string), kept across pause and resume."""
        return self._run.run_id

    @property
    def status(self) -> str:
        """``running``, ``pausing``, ``paused``, ``completed``, ``failed`` or ``cancelled``."""
        return self._run.status

    @property
    def context(self) -> Any:
        """The run's ``Context`` (for inspection after the run)."""
        return self._run.ctx

    async def result(self) -> StopEvent:
        """Wait for the run's ``StopEvent``; raise the run's error if it failed."""
        return await asyncio.shield(self._run.done)

    def __await__(self) -> Generator[Any, None, StopEvent]:
        return self.result().__await__()

    async def stream_events(self) -> AsyncIterator[Event]:
        """Events written with ``ctx.write_event_to_stream``, in order, until the run ends."""
        async for event in self._run.stream.read():
            yield event

    async def pause(self) -> WorkflowSnapshot:
        """Stop dispatching, let running steps finish, and return the run's snapshot."""
        from blazen._runtime.persist import pause_run

        return await pause_run(self._run)

    async def snapshot(self) -> WorkflowSnapshot:
        """A consistent snapshot of the run, taken without stopping it.

        Session values follow ``session_pause_policy`` as at pause; steps running at this
        instant are recorded as pending, so a resumed copy runs them again.
        """
        from blazen._runtime.persist import take_snapshot

        return take_snapshot(self._run)

    async def abort(self) -> None:
        """Cancel the run; ``result()`` then raises ``WorkflowError``."""
        run = self._run
        if run.finished:
            return
        from blazen._runtime.persist import abort_run

        await abort_run(run)

    async def respond_to_input(self, request_id: str, response: Any) -> None:
        """Answer an ``InputRequestEvent``: routes an ``InputResponseEvent`` to its step."""
        run = self._run
        if run.finished:
            raise WorkflowError(f"run {run.run_id} is {run.status}; it cannot take input")
        run.respond(InputResponseEvent(request_id=request_id, response=response), request_id)

    def __repr__(self) -> str:
        return f"<WorkflowHandler run_id={self.run_id} status={self.status}>"
