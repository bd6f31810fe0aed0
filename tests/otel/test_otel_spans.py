"""The spans of a run: their tree, attributes, retries as attempts, errors and the current span."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from otel_flows import attrs, named, one, parent_id

from blazen import Context, Event, StartEvent, StepError, StopEvent, Workflow, step


class Hop(Event):
    n: int


class Leaf(Event):
    i: int


@step
async def start(ctx: Context, ev: StartEvent) -> Hop:
    return Hop(n=0)


@step
async def hop(ctx: Context, ev: Hop) -> Hop | StopEvent:
    if ev.n == 2:
        return StopEvent(result=ev.n)
    return Hop(n=ev.n + 1)


CHAIN = Workflow("chain", [start, hop])


async def test_a_run_is_a_span_with_a_child_span_per_step(exporter: InMemorySpanExporter) -> None:
    handler = await CHAIN.run_with_handler()
    assert (await handler.result()).result == 2
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [
        "blazen.step start",
        "blazen.step hop",
        "blazen.step hop",
        "blazen.step hop",
        "blazen.run chain",
    ]
    run = one(spans, "blazen.run chain")
    assert run.parent is None  # no span was current where the run started
    assert {s.context.trace_id for s in spans} == {run.context.trace_id}
    assert all(parent_id(s) == run.context.span_id for s in spans if s is not run)
    assert {s.kind for s in spans} == {SpanKind.INTERNAL}
    assert attrs(run) == {
        "blazen.run_id": handler.run_id,
        "blazen.workflow": "chain",
        "blazen.status": "completed",
    }
    assert run.status.status_code is StatusCode.UNSET


async def test_step_spans_carry_the_step_attempt_and_events(
    exporter: InMemorySpanExporter,
) -> None:
    handler = await CHAIN.run_with_handler()
    await handler.result()
    spans = exporter.get_finished_spans()
    assert attrs(one(spans, "blazen.step start")) == {
        "blazen.run_id": handler.run_id,
        "blazen.workflow": "chain",
        "blazen.step": "start",
        "blazen.attempt": 1,
        "blazen.input_event": StartEvent.event_type,
        "blazen.events_emitted": ("Hop",),
    }
    hops = named(spans, "blazen.step hop")
    assert [attrs(s)["blazen.events_emitted"] for s in hops] == [
        ("Hop",),
        ("Hop",),
        (StopEvent.event_type,),
    ]
    assert {attrs(s)["blazen.input_event"] for s in hops} == {"Hop"}


async def test_a_step_returning_several_events_lists_them_all(
    exporter: InMemorySpanExporter,
) -> None:
    @step
    async def fan(ctx: Context, ev: StartEvent) -> list[Leaf]:
        return [Leaf(i=i) for i in range(3)]

    @step
    async def leaf(ctx: Context, ev: Leaf) -> StopEvent | None:
        return StopEvent(result=ev.i) if ev.i == 2 else None

    await Workflow("fan", [fan, leaf]).run()
    spans = exporter.get_finished_spans()
    assert attrs(one(spans, "blazen.step fan"))["blazen.events_emitted"] == ("Leaf",) * 3
    emitted = [attrs(s)["blazen.events_emitted"] for s in named(spans, "blazen.step leaf")]
    assert sorted(emitted) == [(), (), (StopEvent.event_type,)]


async def test_each_retry_is_its_own_attempt_span(exporter: InMemorySpanExporter) -> None:
    failures = [ConnectionError("first refusal"), ConnectionError("second refusal")]

    @step(retries=2)
    async def flaky(ctx: Context, ev: StartEvent) -> StopEvent:
        if failures:
            raise failures.pop(0)
        return StopEvent(result="ok")

    assert (await Workflow("flaky", [flaky]).run()).result == "ok"
    spans = exporter.get_finished_spans()
    attempts = named(spans, "blazen.step flaky")
    assert [attrs(s)["blazen.attempt"] for s in attempts] == [1, 2, 3]
    assert [s.status.status_code for s in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    assert attempts[0].status.description == "ConnectionError: first refusal"
    events = [e for s in attempts[:2] for e in s.events]
    assert [e.name for e in events] == ["exception", "exception"]
    assert [dict(e.attributes or {})["exception.message"] for e in events] == [
        "first refusal",
        "second refusal",
    ]
    assert "blazen.events_emitted" not in attrs(attempts[0])
    assert attrs(attempts[2])["blazen.events_emitted"] == (StopEvent.event_type,)
    run = one(spans, "blazen.run flaky")
    assert run.status.status_code is StatusCode.UNSET  # the run succeeded in the end
    assert {parent_id(s) for s in attempts} == {run.context.span_id}


async def test_a_failing_step_records_its_error_on_both_spans(
    exporter: InMemorySpanExporter,
) -> None:
    @step
    async def broken(ctx: Context, ev: StartEvent) -> StopEvent:
        raise ValueError("the input was empty")

    with pytest.raises(StepError, match="the input was empty"):
        await Workflow("broken", [broken]).run()
    spans = exporter.get_finished_spans()
    attempt = one(spans, "blazen.step broken")
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.status.description == "ValueError: the input was empty"
    (event,) = attempt.events
    assert dict(event.attributes or {})["exception.type"] == "ValueError"
    run = one(spans, "blazen.run broken")
    assert attrs(run)["blazen.status"] == "failed"
    assert run.status.status_code is StatusCode.ERROR
    assert "StepError" in (run.status.description or "")
    assert "the input was empty" in (run.status.description or "")
    assert [e.name for e in run.events] == ["exception"]


async def test_a_timed_out_step_is_an_error_span(exporter: InMemorySpanExporter) -> None:
    never = asyncio.Event()

    @step(timeout=0.01)
    async def stuck(ctx: Context, ev: StartEvent) -> StopEvent:
        await never.wait()
        return StopEvent(result=None)

    with pytest.raises(StepError, match="timed out"):
        await Workflow("stuck", [stuck]).run()
    attempt = one(exporter.get_finished_spans(), "blazen.step stuck")
    assert attempt.status.status_code is StatusCode.ERROR
    assert "timed out" in (attempt.status.description or "")


async def test_an_aborted_run_is_cancelled_not_failed(exporter: InMemorySpanExporter) -> None:
    started, never, unwound = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @step
    async def waits(ctx: Context, ev: StartEvent) -> StopEvent:
        started.set()
        try:
            await never.wait()
        finally:
            unwound.set()  # the attempt's span ends in the same task step, right after
        return StopEvent(result=None)

    handler = await Workflow("aborted", [waits]).run_with_handler()
    await started.wait()
    await handler.abort()
    await unwound.wait()
    spans = exporter.get_finished_spans()
    run = one(spans, "blazen.run aborted")
    assert attrs(run)["blazen.status"] == "cancelled"
    assert run.status.status_code is StatusCode.UNSET
    attempt = one(spans, "blazen.step waits")
    assert attrs(attempt)["blazen.cancelled"] is True
    assert attempt.status.status_code is StatusCode.UNSET


async def test_the_attempt_span_is_current_inside_the_step(
    exporter: InMemorySpanExporter,
) -> None:
    seen: dict[str, int] = {}

    @step
    async def inner(ctx: Context, ev: StartEvent) -> Hop:
        seen["async"] = trace.get_current_span().get_span_context().span_id
        return Hop(n=0)

    @step
    def threaded(ctx: Context, ev: Hop) -> StopEvent:  # a plain def runs in a worker thread
        assert threading.current_thread() is not threading.main_thread()
        seen["thread"] = trace.get_current_span().get_span_context().span_id
        return StopEvent(result=None)

    await Workflow("current", [inner, threaded]).run()
    spans = exporter.get_finished_spans()
    assert seen["async"] == one(spans, "blazen.step inner").context.span_id
    assert seen["thread"] == one(spans, "blazen.step threaded").context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing leaks to the caller


async def test_a_run_started_inside_a_span_is_its_child(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = provider.get_tracer("app")
    with app.start_as_current_span("handle request") as request:
        result = await CHAIN.run()
    assert result.result == 2
    run = one(exporter.get_finished_spans(), "blazen.run chain")
    assert run.context.trace_id == request.get_span_context().trace_id
    assert parent_id(run) == request.get_span_context().span_id


async def test_a_sampled_out_run_runs_and_records_nothing() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    import blazen.otel

    tp = TracerProvider(sampler=ALWAYS_OFF)
    exp = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    blazen.otel.use_tracer_provider(tp)
    assert (await CHAIN.run()).result == 2
    assert exp.get_finished_spans() == ()
