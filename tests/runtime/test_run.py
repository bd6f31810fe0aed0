"""Running workflows: chains, routing, results, run ids and the event stream."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from blazen import (
    Context,
    Event,
    StartEvent,
    StepError,
    StopEvent,
    Workflow,
    WorkflowHandler,
    WorkflowResult,
    step,
)


class Parsed(Event):
    words: list[str]


class Counted(Event):
    count: int


class Progress(Event):
    pct: int


@step
async def parse(ctx: Context, ev: StartEvent) -> Parsed:
    return Parsed(words=ev.text.split())


@step
async def count(ctx: Context, ev: Parsed) -> Counted:
    return Counted(count=len(ev.words))


@step
async def report(ctx: Context, ev: Counted) -> StopEvent:
    return StopEvent(result=f"{ev.count} words")


async def test_a_chain_of_steps() -> None:
    wf = Workflow("chain", [parse, count, report])
    handler = await wf.run_with_handler(text="the quick brown fox")
    assert isinstance(handler, WorkflowHandler)
    stop = await handler.result()
    assert isinstance(stop, WorkflowResult)
    assert isinstance(stop.event, StopEvent)
    assert stop.result == "4 words"
    assert stop.event_type == "blazen::StopEvent"


async def test_handler_can_be_awaited_directly() -> None:
    wf = Workflow("await-handler", [parse, count, report])
    stop = await (await wf.run_with_handler(text="a b"))
    assert stop.result == "2 words"


async def test_run_with_handler_is_run() -> None:
    wf = Workflow("with-handler", [parse, count, report])
    handler = await wf.run_with_handler(text="one")
    assert (await handler.result()).result == "1 words"


async def test_run_returns_before_the_run_ends() -> None:
    release = asyncio.Event()

    @step
    async def wait(ctx: Context, ev: StartEvent) -> StopEvent:
        await release.wait()
        return StopEvent(result="released")

    handler = await Workflow("returns-at-once", [wait]).run_with_handler()
    await asyncio.sleep(0.01)
    assert handler.status == "running"
    release.set()
    assert (await handler.result()).result == "released"
    assert handler.status == "completed"


async def test_result_is_the_same_object() -> None:
    payload = {"big": list(range(10))}

    @step
    async def give(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=payload)

    stop = await (await Workflow("identity", [give]).run_with_handler()).result()
    assert stop.result is payload


async def test_start_event_carries_run_kwargs_by_reference() -> None:
    marker = {"big": [1, 2, 3]}  # JSON-shaped run arguments are passed as they are, uncopied
    seen: list[object] = []

    @step
    async def look(ctx: Context, ev: StartEvent) -> StopEvent:
        seen.append(ev.marker)
        return StopEvent(result=(ev.n, ev.name))

    stop = await (
        await Workflow("kwargs", [look]).run_with_handler(marker=marker, n=3, name="x")
    ).result()
    assert stop.result == (3, "x")
    assert seen[0] is marker


async def test_run_kwargs_that_json_cannot_hold_are_refused_as_in_the_rust_core() -> None:
    @step
    async def look(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=None)

    with pytest.raises(TypeError, match="cannot serialize `object` to JSON outside"):
        await Workflow("kwargs-live", [look]).run(marker=object())


async def test_result_can_be_awaited_twice() -> None:
    handler = await Workflow("twice", [parse, count, report]).run_with_handler(text="a")
    assert (await handler.result()) is (await handler.result())


async def test_run_id_is_a_uuid_shared_with_the_context() -> None:
    seen: list[str] = []

    @step
    async def remember(ctx: Context, ev: StartEvent) -> StopEvent:
        seen.append(ctx.run_id())
        return StopEvent()

    wf = Workflow("run-id", [remember])
    h1 = await wf.run_with_handler()
    h2 = await wf.run_with_handler()
    await h1.result()
    await h2.result()
    assert seen == [h1.run_id, h2.run_id] or seen == [h2.run_id, h1.run_id]
    assert h1.run_id != h2.run_id
    for rid in (h1.run_id, h2.run_id):
        assert str(uuid.UUID(rid)) == rid


async def test_context_is_shared_by_the_steps_of_a_run_only() -> None:
    @step
    async def first(ctx: Context, ev: StartEvent) -> Parsed:
        assert ctx.get("seen") is None  # nothing leaks from another run
        ctx.set("seen", [ev.tag])
        return Parsed(words=[])

    @step
    async def second(ctx: Context, ev: Parsed) -> StopEvent:
        return StopEvent(result=ctx.get("seen"))

    wf = Workflow("shared-ctx", [first, second])
    results = await asyncio.gather(*[(await wf.run_with_handler(tag=i)).result() for i in range(3)])
    assert [r.result for r in results] == [[0], [1], [2]]


async def test_union_annotation_receives_either_type() -> None:
    @step
    async def branch(ctx: Context, ev: StartEvent) -> Parsed | Counted:
        return Parsed(words=["x"]) if ev.kind == "parsed" else Counted(count=7)

    @step
    async def either(ctx: Context, ev: Parsed | Counted) -> StopEvent:
        return StopEvent(result=ev.event_type)

    wf = Workflow("union", [branch, either])
    assert (await (await wf.run_with_handler(kind="parsed")).result()).result == "Parsed"
    assert (await (await wf.run_with_handler(kind="counted")).result()).result == "Counted"


async def test_event_annotation_and_no_annotation_receive_start_event() -> None:
    @step
    async def by_event(ctx: Context, ev: Event) -> StopEvent:
        return StopEvent(result=(ev.event_type, ev.x))

    @step
    async def bare(ctx, ev):  # type: ignore[no-untyped-def]
        return StopEvent(result=(ev.event_type, ev.x))

    for s in (by_event, bare):
        stop = await (await Workflow(f"start-{s.__name__}", [s]).run_with_handler(x=1)).result()
        assert stop.result == ("blazen::StartEvent", 1)


async def test_accepts_routes_inline_events() -> None:
    @step
    async def begin(ctx: Context, ev: StartEvent) -> Event:
        return Event("Greeting", name=ev.name)

    @step(accepts=["Greeting"])
    async def greet(ctx: Context, ev: Event) -> StopEvent:
        return StopEvent(result=f"hello {ev.name} ({ev.event_type})")

    stop = await (await Workflow("inline", [begin, greet]).run_with_handler(name="Ada")).result()
    assert stop.result == "hello Ada (Greeting)"


async def test_an_event_goes_to_every_step_that_accepts_it() -> None:
    got: list[str] = []

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Parsed:
        return Parsed(words=["w"])

    @step
    async def left(ctx: Context, ev: Parsed) -> Counted:
        got.append("left")
        return Counted(count=1)

    @step
    async def right(ctx: Context, ev: Parsed) -> Counted:
        got.append("right")
        return Counted(count=2)

    @step
    async def join(ctx: Context, ev: Counted) -> StopEvent | None:
        done = ctx.collect_events(ev, [Counted, Counted])
        return None if done is None else StopEvent(result=sorted(e.count for e in done))

    stop = await (
        await Workflow("broadcast", [begin, left, right, join]).run_with_handler()
    ).result()
    assert stop.result == [1, 2]
    assert sorted(got) == ["left", "right"]


async def test_a_step_may_loop_back() -> None:
    @step
    async def tick(ctx: Context, ev: StartEvent | Counted) -> Counted | StopEvent:
        n = ev.count + 1 if isinstance(ev, Counted) else 0
        return StopEvent(result=n) if n == 50 else Counted(count=n)

    assert (await (await Workflow("loop", [tick]).run_with_handler()).result()).result == 50


async def test_plain_def_steps_run_in_a_worker_thread() -> None:
    import threading

    loop_thread = threading.get_ident()
    threads: dict[str, int] = {}

    @step
    def blocking(ctx: Context, ev: StartEvent) -> Parsed:
        threads["blocking"] = threading.get_ident()
        ctx.set("from-thread", {"ok": True})
        return Parsed(words=["a", "b"])

    @step
    async def after(ctx: Context, ev: Parsed) -> StopEvent:
        threads["async"] = threading.get_ident()
        return StopEvent(result=(len(ev.words), ctx.get("from-thread")))

    stop = await (await Workflow("threads", [blocking, after]).run_with_handler()).result()
    assert stop.result == (2, {"ok": True})
    assert threads["async"] == loop_thread
    assert threads["blocking"] != loop_thread


async def test_stream_events_in_order_and_ends_with_the_run() -> None:
    @step
    async def work(ctx: Context, ev: StartEvent) -> StopEvent:
        for pct in (0, 25, 50, 75, 100):
            ctx.write_event_to_stream(Progress(pct=pct))
            await asyncio.sleep(0)
        return StopEvent(result="done")

    handler = await Workflow("stream", [work]).run_with_handler()
    seen = [ev.pct async for ev in handler.stream_events()]
    assert seen == [0, 25, 50, 75, 100]
    assert (await handler.result()).result == "done"


async def test_streamed_events_are_not_routed() -> None:
    @step
    async def work(ctx: Context, ev: StartEvent) -> StopEvent:
        # Nobody accepts Progress: streaming it must not fail the run.
        ctx.write_event_to_stream(Progress(pct=1))
        await ctx.awrite_event_to_stream(Event("Note", text="inline"))
        return StopEvent(result="ok")

    handler = await Workflow("stream-not-routed", [work]).run_with_handler()
    assert (await handler.result()).result == "ok"
    seen = [ev.event_type async for ev in handler.stream_events()]
    assert seen == ["Progress", "Note"]


async def test_stream_from_a_thread_and_two_readers() -> None:
    @step
    def work(ctx: Context, ev: StartEvent) -> StopEvent:
        for pct in range(5):
            ctx.write_event_to_stream(Progress(pct=pct))
        return StopEvent(result="ok")

    handler = await Workflow("stream-thread", [work]).run_with_handler()

    async def read() -> list[int]:
        return [ev.pct async for ev in handler.stream_events()]

    a, b = await asyncio.gather(read(), read())
    assert a == b == [0, 1, 2, 3, 4]


async def test_stream_of_a_failed_run_ends() -> None:
    @step
    async def boom(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.write_event_to_stream(Progress(pct=1))
        await asyncio.sleep(0.01)
        raise RuntimeError("boom")

    handler = await Workflow("stream-fail", [boom]).run_with_handler()
    seen = [ev async for ev in handler.stream_events()]
    assert len(seen) == 1
    with pytest.raises(StepError) as info:
        await handler.result()
    assert "boom" in str(info.value.__cause__)


async def test_context_after_the_run() -> None:
    @step
    async def keep(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.set("answer", 42)
        return StopEvent()

    handler = await Workflow("ctx-after", [keep]).run_with_handler()
    await handler.result()
    assert handler.context.get("answer") == 42


async def test_stream_without_events_ends_with_the_run() -> None:
    handler = await Workflow("stream-empty", [parse, count, report]).run_with_handler(text="a b")
    assert [ev async for ev in handler.stream_events()] == []
    assert (await handler.result()).result == "2 words"
