"""``WorkflowHandler``: the caller's grip on one run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from typing import Any

from blazen._runtime.persist import abort_run, pause_run, resume_in_place, take_snapshot
from blazen._runtime.run import Run
from blazen.context import Context
from blazen.errors import WorkflowError
from blazen.events import Event, InputRequestEvent, InputResponseEvent
from blazen.result import WorkflowResult
from blazen.session_refs import using_registry
from blazen.snapshot import WorkflowSnapshot
from blazen.status import RunStatus
from blazen.usage import TokenUsage

__all__ = ["WorkflowHandler"]


class WorkflowHandler:
    """Returned by ``wf.run_with_handler()``: await the result, stream events, pause, abort."""

    __slots__ = ("_result", "_run")

    def __init__(self, run: Run) -> None:
        self._run = run
        self._result: WorkflowResult | None = None

    @property
    def run_id(self) -> str:
        """The run's id (a UUID string), kept across pause and resume."""
        return self._run.run_id

    @property
    def status(self) -> RunStatus:
        """``running``, ``waiting`` (for input), ``paused``, ``completed``, ``failed`` or
        ``cancelled``."""
        return self._run.status_now()

    @property
    def context(self) -> Context:
        """The run's ``Context`` (to inspect its values, also after the run ended)."""
        return self._run.ctx

    async def result(self) -> WorkflowResult:
        """Wait for the run's end: its ``WorkflowResult``, or the run's error raised.

        A paused run's result waits until ``resume_in_place()`` continues it.
        """
        if self._result is None:
            done = self._run.done
            stop = done.result() if done.done() else await asyncio.shield(done)
            self._result = WorkflowResult(stop, session_refs=self._run.refs_if_any())
        return self._result

    def __await__(self) -> Generator[Any, None, WorkflowResult]:
        return self.result().__await__()

    async def stream_events(self) -> AsyncIterator[Event]:
        """Events written with ``ctx.write_event_to_stream`` (and input requests), in order.

        The stream ends when the run ends, also when it fails (the error comes from
        ``result()``); each call replays the stream from its start.
        """
        async for event in self._run.stream.read():
            yield event

    async def pause(self) -> WorkflowSnapshot | None:
        """Stop dispatching, let running steps finish, and return the run's snapshot.

        The run stays parked in this process: ``resume_in_place()`` continues it, or its
        snapshot resumes anywhere. ``None`` means the run ended while pausing (its
        ``result()`` is available).
        """
        return await pause_run(self._run)

    async def resume_in_place(self) -> None:
        """Continue a run paused by ``pause()``, in this process, with this handler."""
        await resume_in_place(self._run)

    async def snapshot(self) -> str:
        """The run's snapshot as JSON text (the Rust core's form), taken without stopping it.

        ``take_snapshot()`` gives the same as a ``WorkflowSnapshot`` (``.to_bytes()`` is the
        compact binary form).
        """
        return take_snapshot(self._run).to_json()

    async def take_snapshot(self) -> WorkflowSnapshot:
        """A consistent snapshot of the run, taken without stopping it.

        Session values follow ``session_pause_policy`` as at pause; steps running at this
        instant are recorded as pending, so a resumed copy runs them again.
        """
        return take_snapshot(self._run)

    async def abort(self) -> None:
        """Cancel the run; ``result()`` then raises ``RunAbortedError``."""
        await abort_run(self._run)

    def input_requests(self) -> list[InputRequestEvent]:
        """The input requests the run is waiting for, oldest first."""
        return [request for _, request in self._run.waiting.values()]

    async def respond_to_input(
        self, request_id: str | InputResponseEvent, response: Any = None
    ) -> None:
        """Answer an ``InputRequestEvent``: routes an ``InputResponseEvent`` to its step.

        Takes the request id and the response, or a ready ``InputResponseEvent``.
        """
        run = self._run
        if run.finished:
            raise WorkflowError(f"run {run.run_id} is {run.status}; it cannot take input")
        if isinstance(request_id, InputResponseEvent):
            answer = request_id
        else:
            with using_registry(run.session_refs):  # a live response travels by reference
                answer = InputResponseEvent(request_id=request_id, response=response)
        if run.hooks is not None and answer.request_id in run.waiting:
            await run.hooks.before_input()  # a durable run waiting for input holds no lease
        run.respond(answer, answer.request_id)

    async def usage_total(self) -> TokenUsage:
        """LLM token usage (the Rust-core package's models fill it; zero here)."""
        return TokenUsage.zero()

    async def cost_total_usd(self) -> float:
        """LLM cost in USD (the Rust-core package's models fill it; zero here)."""
        return 0.0

    def __repr__(self) -> str:
        return f"<WorkflowHandler run_id={self.run_id} status={self.status}>"
