"""Tracing costs nothing when off and never breaks a run: no provider, a disabled SDK, a
provider set late, OpenTelemetry missing, and a tracing pipeline that raises."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context as OtelContext
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

import blazen._tracing
import blazen.otel
from blazen import Context, StartEvent, StopEvent, Workflow, step

SRC = Path(__file__).resolve().parents[2] / "src"


@step
async def only(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result="done")


WF = Workflow("inert", [only])


async def test_without_a_provider_no_observer_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # none set here
    made: list[Any] = []
    monkeypatch.setattr(blazen.otel, "SpanObserver", lambda *a: made.append(a))
    assert blazen._tracing.observer_for("inert", "run-1") is None
    assert blazen.otel.observer("inert", "run-1", None, False) is None
    handler = await WF.run_with_handler()
    assert (await handler.result()).result == "done"
    assert handler._run.observer is None  # every hook point is skipped
    assert made == []  # the adapter never built an observer


async def test_a_disabled_sdk_traces_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    blazen.otel.use_tracer_provider(TracerProvider())
    assert blazen._tracing.observer_for("inert", "run-1") is None


async def test_an_explicit_provider_wins_and_none_returns_to_the_global() -> None:
    tp = TracerProvider()
    blazen.otel.use_tracer_provider(tp)
    assert blazen.otel.tracer() is not None
    assert blazen._tracing.observer_for("inert", "run-1") is not None
    blazen.otel.use_tracer_provider(None)
    assert blazen.otel.tracer() is None  # the global one is still the API's proxy
    tp.shutdown()


class _Raising(SpanProcessor):
    """A span processor that fails when spans start or end (a broken tracing pipeline)."""

    def __init__(self, on: str) -> None:
        self.on = on

    def on_start(self, span: Span, parent_context: OtelContext | None = None) -> None:
        if self.on == "start":
            raise RuntimeError("exporter misconfigured")

    def on_end(self, span: ReadableSpan) -> None:
        if self.on == "end":
            raise RuntimeError("exporter misconfigured")


@pytest.mark.parametrize("on", ["start", "end"])
async def test_a_failing_tracing_pipeline_never_breaks_a_run(
    on: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(blazen.otel, "_warned", set())
    tp = TracerProvider()
    tp.add_span_processor(_Raising(on))
    blazen.otel.use_tracer_provider(tp)
    with caplog.at_level(logging.WARNING, logger="blazen.otel"):
        assert (await WF.run()).result == "done"
    expected = "starting a run span" if on == "start" else "ending a step span"
    messages = [r.getMessage() for r in caplog.records if r.name == "blazen.otel"]
    assert any(expected in m for m in messages), messages
    assert all(r.exc_info for r in caplog.records if r.name == "blazen.otel")
    assert trace.get_current_span() is trace.INVALID_SPAN  # no context left attached


def _python(program: str) -> Any:
    """Run ``program`` in a fresh interpreter; the JSON it prints last."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("OTEL_PYTHON_TRACER_PROVIDER", None)
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


FLOW = """
import asyncio, json, sys
import blazen
from blazen import Context, StartEvent, StopEvent, Workflow, step

@step
async def only(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result="done")

wf = Workflow("late", [only])

def otel_modules():
    names = {"opentelemetry", "blazen.otel"}
    return sorted(m for m in sys.modules if m in names or m.split(".")[0] in names)
"""

LATE_PROVIDER = (
    FLOW
    + """
after_import = otel_modules()
asyncio.run(wf.run())
after_first_run = "blazen.otel" in sys.modules

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
untraced = len(exporter.get_finished_spans())
trace.set_tracer_provider(provider)
asyncio.run(wf.run())
names = [s.name for s in exporter.get_finished_spans()]
print(json.dumps([after_import, after_first_run, untraced, names]))
"""
)


def test_a_provider_set_after_the_first_run_is_picked_up() -> None:
    after_import, after_first_run, untraced, names = _python(LATE_PROVIDER)
    assert after_import == []  # import blazen loads no OpenTelemetry module
    assert after_first_run is True  # the adapter was looked up at the first run
    assert untraced == 0
    assert names == ["blazen.step only", "blazen.run late"]


WITHOUT_OTEL = (
    """
import sys

class NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoOpenTelemetry())
"""
    + FLOW
    + """
result = asyncio.run(wf.run()).result
print(json.dumps([result, blazen._tracing._factory is None, otel_modules()]))
"""
)


def test_without_opentelemetry_installed_nothing_is_imported() -> None:
    result, no_factory, modules = _python(WITHOUT_OTEL)
    assert result == "done"
    assert no_factory is True
    assert modules == []
