"""A step that accepts ``StepFailedEvent`` handles other steps' final failures."""

from __future__ import annotations

import asyncio

import pytest

from blazen import (
    Context,
    Event,
    StartEvent,
    StepError,
    StepFailedEvent,
    StopEvent,
    Workflow,
    step,
)


class Page(Event):
    url: str


class Fetched(Event):
    url: str
    ok: bool


def _crawler(name: str, *, handle: bool) -> Workflow:
    @step
    async def start(ctx: Context, ev: StartEvent) -> list[Page]:
        return [Page(url=u) for u in ev.urls]

    @step(timeout=0.2, retries=1)
    async def fetch(ctx: Context, ev: Page) -> Fetched:
        if ev.url == "slow":
            await asyncio.sleep(10)
        if ev.url == "broken":
            raise ConnectionError(f"cannot reach {ev.url}")
        return Fetched(url=ev.url, ok=True)

    @step
    async def failed(ctx: Context, ev: StepFailedEvent) -> Fetched:
        ctx.set(f"failure/{ev.input_event.url}", [ev.step, ev.error_type, ev.attempts])
        return Fetched(url=ev.input_event.url, ok=False)

    @step
    async def report(ctx: Context, ev: Fetched) -> StopEvent | None:
        done = ctx.collect_events(ev, [Fetched] * 3)
        if done is None:
            return None
        return StopEvent(result=sorted((f.url, f.ok) for f in done))

    steps = [start, fetch, report] + ([failed] if handle else [])
    return Workflow(name, steps, timeout=10)


async def test_a_failing_or_timed_out_step_is_handled_instead_of_failing_the_run() -> None:
    handler = await _crawler("crawl-handled", handle=True).run_with_handler(
        urls=["fine", "broken", "slow"]
    )
    result = await handler.result()
    assert result.result == [("broken", False), ("fine", True), ("slow", False)]
    ctx = handler.context
    assert ctx.get("failure/broken") == ["fetch", "ConnectionError", 2]  # after its retry
    assert ctx.get("failure/slow") == ["fetch", "StepTimeoutError", 2]


async def test_without_a_failure_step_the_run_fails_as_before() -> None:
    with pytest.raises(StepError, match="cannot reach broken"):
        await _crawler("crawl-unhandled", handle=False).run(urls=["fine", "broken", "x"])


async def test_the_failure_step_failing_itself_fails_the_run() -> None:
    @step
    async def boom(ctx: Context, ev: StartEvent) -> StopEvent:
        raise ValueError("first")

    @step
    async def handler_step(ctx: Context, ev: StepFailedEvent) -> StopEvent:
        raise RuntimeError(f"handler broke on {ev.error_message}")

    with pytest.raises(StepError, match="handler broke on first"):
        await Workflow("failing-handler", [boom, handler_step]).run()
