"""A run continues its trace: after pause/resume_in_place, from a snapshot, and in another
process that takes a durable run over (SQLite file, the first process paused or killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_flows import REVIEW_STEPS, attrs, named, one, parent_id
from traced_review import wait_for_request

from blazen import Workflow, WorkflowSnapshot
from blazen.stores.memory import MemoryStore

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
CHILD = HERE / "traced_review.py"
RUN = "blazen.run review"


async def test_pause_then_resume_in_place_continues_the_trace(
    exporter: InMemorySpanExporter,
) -> None:
    handler = await Workflow("review", REVIEW_STEPS).run_with_handler(topic="otel")
    await wait_for_request(handler)
    snapshot = await handler.pause()
    assert snapshot is not None
    (paused,) = named(exporter.get_finished_spans(), RUN)  # ended at the pause
    assert attrs(paused)["blazen.status"] == "paused"

    await handler.resume_in_place()
    await handler.respond_to_input("approve", "yes")
    assert (await handler.result()).result == {"draft": "about otel", "approved": "yes"}
    spans = exporter.get_finished_spans()
    first, second = named(spans, RUN)
    assert first.context.span_id == paused.context.span_id
    assert second.context.trace_id == first.context.trace_id
    assert parent_id(second) == first.context.span_id
    assert attrs(second) == {
        "blazen.run_id": handler.run_id,
        "blazen.workflow": "review",
        "blazen.resumed": True,
        "blazen.status": "completed",
    }
    assert parent_id(one(spans, "blazen.step draft")) == first.context.span_id
    assert parent_id(one(spans, "blazen.step ask")) == first.context.span_id
    decide = one(spans, "blazen.step decide")
    assert parent_id(decide) == second.context.span_id
    assert attrs(decide)["blazen.input_event"] == "blazen::InputResponseEvent"


async def test_a_snapshot_carries_the_trace_context(exporter: InMemorySpanExporter) -> None:
    handler = await Workflow("review", REVIEW_STEPS).run_with_handler(topic="otel")
    await wait_for_request(handler)
    snapshot = await handler.pause()
    assert snapshot is not None
    run = one(exporter.get_finished_spans(), RUN)
    assert snapshot.metadata["blazen.trace"] == {"traceparent": _traceparent(run)}


def _traceparent(span: ReadableSpan) -> str:
    """The W3C traceparent header of ``span``."""
    ctx = span.context
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


async def test_a_run_resumed_from_a_snapshot_is_a_child_linked_to_the_resumer(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    handler = await Workflow("review", REVIEW_STEPS).run_with_handler(topic="otel")
    await wait_for_request(handler)
    paused = await handler.pause()
    assert paused is not None
    data = paused.to_bytes()

    with provider.get_tracer("app").start_as_current_span("resume request") as request:
        resumed = await Workflow("review", REVIEW_STEPS).resume(WorkflowSnapshot.from_bytes(data))
    await resumed.respond_to_input("approve", "later")
    assert (await resumed.result()).result == {"draft": "about otel", "approved": "later"}
    first, second = named(exporter.get_finished_spans(), RUN)
    assert second.context.trace_id == first.context.trace_id
    assert parent_id(second) == first.context.span_id
    assert attrs(second)["blazen.resumed"] is True
    assert [link.context.span_id for link in second.links] == [request.get_span_context().span_id]


async def test_a_bad_stored_trace_context_starts_a_new_trace(
    exporter: InMemorySpanExporter,
) -> None:
    handler = await Workflow("review", REVIEW_STEPS).run_with_handler(topic="otel")
    await wait_for_request(handler)
    snapshot = await handler.pause()
    assert snapshot is not None
    for bad in ({"traceparent": "not a traceparent"}, {"traceparent": 42}):
        snapshot.metadata["blazen.trace"] = bad
        resumed = await Workflow("review", REVIEW_STEPS).resume(snapshot)
        await resumed.respond_to_input("approve", "no")
        assert (await resumed.result()).result["approved"] == "no"
    first, *others = named(exporter.get_finished_spans(), RUN)
    assert len(others) == 2
    assert all(s.parent is None for s in others)  # each a new trace, still traced
    assert all(s.context.trace_id != first.context.trace_id for s in others)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    env.pop("OTEL_SDK_DISABLED", None)
    return env


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _first_process(db: Path, spans: Path, how: str) -> str:
    """Start the run in a child process that pauses it, or is killed while it waits."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), f"sqlite:///{db}", str(spans), "start", how],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().split()[1]
    if how == "hang":
        assert child.stdout.readline().strip() == "WAITING"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
    else:
        assert child.stdout.readline().strip() == "PAUSED"
        assert child.wait(timeout=60) == 0
    child.stdout.close()
    return run_id


@pytest.mark.parametrize("how", ["pause", "hang"])
def test_a_durable_run_taken_over_by_another_process_continues_its_trace(
    tmp_path: Path, how: str
) -> None:
    db, first_spans, second_spans = tmp_path / "runs.db", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run_id = _first_process(db, first_spans, how)
    resume = [sys.executable, str(CHILD), f"sqlite:///{db}", str(second_spans), "resume", run_id]
    out = subprocess.run(resume, capture_output=True, text=True, env=_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(maxsplit=1) == [
        "RESULT",
        '{"draft": "about tracing", "approved": "yes"}\n',
    ]

    before, after = _spans(first_spans), _spans(second_spans)
    assert sorted(s["name"] for s in before) == sorted(
        ["blazen.step draft", "blazen.step ask"] + ([RUN] if how == "pause" else [])
    )
    assert [s["name"] for s in after] == ["blazen.step decide", RUN]
    (first_run_id,) = {s["parent_id"] for s in before if s["name"] != RUN}
    resumed = after[1]
    assert {s["trace_id"] for s in before + after} == {resumed["trace_id"]}  # one trace
    assert resumed["parent_id"] == first_run_id  # a child of the first process's run span
    assert resumed["attributes"] == {
        "blazen.run_id": run_id,
        "blazen.workflow": "review",
        "blazen.resumed": True,
        "blazen.status": "completed",
    }
    assert after[0]["parent_id"] == resumed["span_id"]


async def test_durable_resume_and_fork_each_continue_their_own_trace(
    exporter: InMemorySpanExporter,
) -> None:
    store = MemoryStore()
    wf = Workflow("review", REVIEW_STEPS, store=store)
    handler = await wf.run_with_handler(topic="otel")
    await wait_for_request(handler)
    await handler.pause()
    first = one(exporter.get_finished_spans(), RUN)
    assert (await store.get_run(handler.run_id)).metadata["trace"] == {
        "traceparent": _traceparent(first)
    }

    fork = await wf.fork_run(handler.run_id)  # a new run: a new trace, stored with it
    await wait_for_request(fork)
    await fork.pause()
    forked = [s for s in named(exporter.get_finished_spans(), RUN) if s is not first]
    (fork_span,) = [s for s in forked if attrs(s)["blazen.run_id"] == fork.run_id]
    assert fork_span.parent is None
    assert fork_span.context.trace_id != first.context.trace_id

    for run_id, parent in ((handler.run_id, first), (fork.run_id, fork_span)):
        resumed = await wf.resume_run(run_id)
        await resumed.respond_to_input("approve", "yes")
        await resumed.result()
        (span,) = [
            s
            for s in named(exporter.get_finished_spans(), RUN)
            if attrs(s)["blazen.run_id"] == run_id and attrs(s)["blazen.status"] == "completed"
        ]
        assert span.context.trace_id == parent.context.trace_id
        assert parent_id(span) == parent.context.span_id
    await store.close()
