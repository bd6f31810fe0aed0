"""A child process of the cross-process trace test: start or resume a durable review run.

    traced_review.py STORE SPANS start pause|hang    start a run; at its input request pause
                                                     it and exit, or hang (to be killed)
    traced_review.py STORE SPANS resume RUN_ID       resume it, approve, print RESULT

The process-global tracer provider exports each span as one JSON line to SPANS, written as
the span ends (so a killed process leaves the spans it finished).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import IO

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from otel_flows import REVIEW_STEPS

from blazen import InputRequestEvent, Workflow, WorkflowHandler
from blazen.stores.sqlite import SQLiteStore


class JsonLines(SpanExporter):
    """Each finished span as a JSON line: name, ids, parent id, attributes."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for s in spans:
            assert s.context is not None
            line = {
                "name": s.name,
                "trace_id": s.context.trace_id,
                "span_id": s.context.span_id,
                "parent_id": s.parent.span_id if s.parent else None,
                "attributes": dict(s.attributes or {}),
            }
            self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        return SpanExportResult.SUCCESS


async def wait_for_request(handler: WorkflowHandler) -> None:
    """Return once the run asks for input (read from its event stream)."""
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            return


async def main(store_url: str, action: str, arg: str) -> None:
    store = SQLiteStore.from_url(store_url)
    wf = Workflow("review", REVIEW_STEPS, store=store)
    if action == "start":
        handler = await wf.run_with_handler(topic="tracing")
        print("RUN", handler.run_id, flush=True)
        await wait_for_request(handler)
        if arg == "hang":
            print("WAITING", flush=True)
            await asyncio.Event().wait()  # the test kills this process here
        await handler.pause()
        print("PAUSED", flush=True)
    else:
        handler = await wf.resume_run(arg)
        await handler.respond_to_input("approve", "yes")
        print("RESULT", json.dumps((await handler.result()).result), flush=True)
    await store.close()


if __name__ == "__main__":
    store_url, spans_path, action, arg = sys.argv[1:5]
    with open(spans_path, "a", encoding="utf-8") as out:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(JsonLines(out)))
        trace.set_tracer_provider(provider)
        asyncio.run(main(store_url, action, arg))
