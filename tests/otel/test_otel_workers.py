"""A submitted run traced across the workers that run it: one trace, from the submission."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from blazen import (
    Context,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)
from blazen.stores.memory import MemoryStore
from blazen.worker import Worker


@step
async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    return InputRequestEvent(request_id="ok", prompt="go?")


@step
async def done(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    return StopEvent(result=ev.response)


def _run_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == "blazen.run traced-submit"]


async def _until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` (bounded: about 10 s)."""
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting until {what}")


async def test_a_submitted_run_is_one_trace_across_the_workers_that_run_it(
    exporter: InMemorySpanExporter,
) -> None:
    store = MemoryStore()
    wf = Workflow("traced-submit", [ask, done], store=store)
    run_id = await wf.submit()
    worker = Worker([wf], concurrency=1)
    task = asyncio.ensure_future(worker.run())
    await _until(
        lambda: any(s.attributes.get("blazen.status") == "waiting" for s in _run_spans(exporter)),
        "the worker's run span ends as it lets go of the run waiting for its answer",
    )
    await store.respond(run_id, "ok", "yes")
    assert (await asyncio.wait_for(wf.wait(run_id), 10)).result == "yes"
    worker.stop()
    await asyncio.wait_for(task, 10)

    spans = exporter.get_finished_spans()
    runs = _run_spans(exporter)
    assert {s.context.trace_id for s in spans} == {runs[0].context.trace_id}  # one trace
    statuses = [s.attributes.get("blazen.status") for s in runs]
    assert statuses == ["queued", "waiting", "completed"]  # submission, ask, answer
    assert runs[1].attributes.get("blazen.resumed") is None  # the run's first execution
    assert runs[2].attributes.get("blazen.resumed") is True  # continued after the answer
    assert runs[1].parent is not None
    assert runs[1].parent.span_id == runs[0].context.span_id  # continues the submission
    await store.close()
