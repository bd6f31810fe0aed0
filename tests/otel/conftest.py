"""Fixtures of the OpenTelemetry tests: an SDK tracer provider with an in-memory exporter."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

if os.environ.get("CI") != "true":  # CI installs the ``test`` extra: a missing SDK fails there
    pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (extra test)")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import blazen._tracing
import blazen.otel


@pytest.fixture(autouse=True)
def _fresh_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test finds the adapter anew, and leaves no tracer provider behind."""
    monkeypatch.setattr(blazen._tracing, "_factory", blazen._tracing._UNSET)
    yield
    blazen.otel.use_tracer_provider(None)


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """An SDK tracer provider that blazen traces with (not the process-global one)."""
    tp = TracerProvider()
    blazen.otel.use_tracer_provider(tp)
    yield tp
    tp.shutdown()


@pytest.fixture
def exporter(provider: TracerProvider) -> InMemorySpanExporter:
    """The finished spans of the test's runs, exported synchronously as each span ends."""
    exp = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    return exp
