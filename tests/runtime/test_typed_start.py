"""A ``StartEvent`` subclass annotation: run arguments validated and delivered as that class."""

from __future__ import annotations

import pytest

from blazen import (
    Context,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StartEventError,
    StopEvent,
    Workflow,
    WorkflowValidationError,
    step,
)


class CrawlStart(StartEvent):
    urls: list[str]
    depth: int = 1


@step
async def crawl(ctx: Context, ev: CrawlStart) -> StopEvent:
    return StopEvent(result=(type(ev).__name__, ev.urls, ev.depth))


async def test_the_start_step_receives_the_subclass_with_its_defaults() -> None:
    result = await Workflow("typed-start", [crawl]).run(urls=["a", "b"])
    assert result.result == ("CrawlStart", ["a", "b"], 1)


async def test_bad_run_arguments_are_a_clear_error_before_the_run_starts() -> None:
    wf = Workflow("typed-start-bad", [crawl])
    with pytest.raises(StartEventError, match=r"do not fit CrawlStart: urls: Input should be"):
        await wf.run_with_handler(urls="not a list")
    with pytest.raises(StartEventError, match="urls: Field required"):
        await wf.run(depth=2)


async def test_a_snapshot_restores_the_subclass() -> None:
    @step
    async def ask(ctx: Context, ev: CrawlStart) -> InputRequestEvent:
        ctx.set("depth", ev.depth)
        return InputRequestEvent(request_id="go")

    @step
    async def go(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ctx.get("depth"))

    wf = Workflow("typed-start-snapshot", [ask, go])
    handler = await wf.run_with_handler(urls=["x"], depth=3)
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break
    snapshot = await handler.pause()
    assert snapshot is not None
    start = wf.graph.classes["blazen::StartEvent"]
    assert start is CrawlStart
    resumed = await wf.resume(snapshot.to_bytes())
    await resumed.respond_to_input("go", None)
    assert (await resumed.result()).result == 3


def test_two_different_start_classes_are_refused() -> None:
    class OtherStart(StartEvent):
        x: int = 0

    @step
    async def other(ctx: Context, ev: OtherStart) -> StopEvent:
        return StopEvent(result=None)

    with pytest.raises(WorkflowValidationError, match="two different StartEvent classes"):
        Workflow("two-starts", [crawl, other])


@pytest.mark.parametrize("order", [0, 1], ids=["base-first", "subclass-first"])
def test_a_start_class_and_its_subclass_make_the_subclass_the_start(order: int) -> None:
    class DeepCrawl(CrawlStart):
        limit: int = 10

    @step
    async def deep(ctx: Context, ev: DeepCrawl) -> StopEvent:
        return StopEvent(result=ev.limit)

    steps = [crawl, deep] if order == 0 else [deep, crawl]
    assert Workflow("nested-starts", steps).graph.start_class is DeepCrawl
