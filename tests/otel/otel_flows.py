"""Workflows and span helpers shared by the OpenTelemetry tests (and their child processes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    step,
)


class Drafted(Event):
    text: str


@step
async def draft(ctx: Context, ev: StartEvent) -> Drafted:
    """The first step: a draft from the run's argument."""
    ctx.set("topic", ev.topic)
    return Drafted(text=f"about {ev.topic}")


@step
async def ask(ctx: Context, ev: Drafted) -> InputRequestEvent:
    """Ask a human to approve the draft (the run waits here)."""
    ctx.set("draft", ev.text)
    return InputRequestEvent(request_id="approve", prompt=f"Publish {ev.text!r}?")


@step
async def decide(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    """The answer ends the run."""
    return StopEvent(result={"draft": ctx.get("draft"), "approved": ev.response})


REVIEW_STEPS = [draft, ask, decide]


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The spans called ``name``, in the order they ended."""
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    """The only span called ``name``."""
    found = named(spans, name)
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes as a plain dict."""
    return dict(span.attributes or {})


def parent_id(span: ReadableSpan) -> int | None:
    """The span id of the span's parent (None for a root span)."""
    return span.parent.span_id if span.parent is not None else None
