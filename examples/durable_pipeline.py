"""A small durable document pipeline: fan-out, binary blobs, streamed progress, fan-in.

Run it durably with the CLI (every step is committed to ``./blazen.db``)::

    blazen run examples/durable_pipeline.py:workflow --arg docs=5
    blazen runs list
    blazen runs show <run id>

or in memory, without a store::

    python examples/durable_pipeline.py [docs] [topic]

Arguments (``--arg k=v`` on the command line, keywords of ``workflow.run`` in code):

``topic``   what the documents are about (default ``"durable workflows"``)
``docs``    how many documents to make and process (default 3)
``delay``   seconds each document takes to "process" (default 0.2), to watch progress
``review``  when true, ask a human to approve the summary before the run ends
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
import zlib
from typing import Any

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)

_WORDS = ["checkpoint", "commit", "event", "step", "store", "snapshot", "resume", "fan-in"]


class DocumentEvent(Event):
    """One document to process."""

    index: int
    title: str
    text: str


class DocumentDone(Event):
    """A processed document: its statistics (its compressed body is in the context)."""

    index: int
    words: int
    compressed: int
    sha256: str


class Progress(Event):
    """Streamed to the caller (``handler.stream_events()``); never routed to a step."""

    stage: str
    message: str


def make_document(topic: str, index: int) -> str:
    """Deterministic text for document ``index`` (same input, same output: runs are replayable)."""
    rng = random.Random(f"{topic}/{index}")
    words = rng.choices(_WORDS, k=rng.randint(40, 120))
    return f"{topic}, part {index + 1}: " + " ".join(words) + "."


@step
async def split(ctx: Context, ev: StartEvent) -> list[DocumentEvent]:
    """Read the run's arguments and fan out one ``DocumentEvent`` per document."""
    topic = str(getattr(ev, "topic", "durable workflows"))
    docs = int(getattr(ev, "docs", 3))
    if docs < 1:
        raise ValueError(f"docs must be at least 1, not {docs}")
    ctx.set(
        "config",
        {
            "topic": topic,
            "docs": docs,
            "delay": float(getattr(ev, "delay", 0.2)),
            "review": _truthy(getattr(ev, "review", False)),
        },
    )
    ctx.write_event_to_stream(Progress(stage="split", message=f"{docs} documents about {topic!r}"))
    return [
        DocumentEvent(index=i, title=f"{topic} #{i + 1}", text=make_document(topic, i))
        for i in range(docs)
    ]


@step(max_concurrency=4)
async def process(ctx: Context, ev: DocumentEvent) -> DocumentDone:
    """Compress one document into a binary blob and record its statistics as JSON."""
    await asyncio.sleep(ctx.get("config")["delay"])
    body = ev.text.encode()
    blob = zlib.compress(body, 9)  # raw bytes: stored as StateValue.Bytes, no encoding
    digest = hashlib.sha256(body).hexdigest()
    ctx.set_bytes(f"doc/{ev.index}/compressed", blob)
    ctx.set(
        f"doc/{ev.index}/stats",
        {
            "title": ev.title,
            "words": len(ev.text.split()),
            "chars": len(ev.text),
            "compressed": len(blob),
            "sha256": digest,
        },
    )
    ctx.write_event_to_stream(
        Progress(stage="process", message=f"{ev.title}: {len(blob)} bytes compressed")
    )
    return DocumentDone(
        index=ev.index, words=len(ev.text.split()), compressed=len(blob), sha256=digest[:12]
    )


@step
async def summarize(ctx: Context, ev: DocumentDone) -> StopEvent | InputRequestEvent | None:
    """Fan in: wait for every ``DocumentDone``, then finish (or ask for a review first)."""
    config = ctx.get("config")
    done = ctx.collect_events(ev, [DocumentDone] * config["docs"])
    if done is None:
        return None
    summary = {
        "topic": config["topic"],
        "documents": len(done),
        "words": sum(d.words for d in done),
        "compressed_bytes": sum(d.compressed for d in done),
        "digests": [d.sha256 for d in sorted(done, key=lambda d: d.index)],
    }
    ctx.write_event_to_stream(
        Progress(stage="summarize", message=f"{summary['words']} words in {len(done)} documents")
    )
    if not config["review"]:
        return StopEvent(result=summary)
    ctx.set("summary", summary)
    return InputRequestEvent(
        request_id="approve",
        prompt=f"Publish the summary of {len(done)} documents? [y/n]",
        metadata={"documents": len(done)},
    )


@step
async def review(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    """The human's answer to the review request ends the run."""
    summary: dict[str, Any] = ctx.get("summary")
    answer = str(ev.response).strip().lower()
    summary["approved"] = answer in ("y", "yes", "true", "1")
    return StopEvent(result=summary)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)


workflow = Workflow("durable-pipeline", [split, process, summarize, review], timeout=300)


async def main(docs: int = 3, topic: str = "durable workflows") -> Any:
    """Run the pipeline in memory (no store), printing progress and returning the summary."""
    handler = await workflow.run_with_handler(docs=docs, topic=topic, delay=0.05)
    async for event in handler.stream_events():
        if isinstance(event, Progress):
            print(f"[{event.stage}] {event.message}")
    stop = await handler.result()
    return stop.result


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    about = sys.argv[2] if len(sys.argv) > 2 else "durable workflows"
    print(asyncio.run(main(n, about)))
