"""Fan out to concurrent steps, then fan in with ``ctx.collect_events``.

One step returns a list of events (each handled concurrently); a join step buffers the
results until one of each expected event has arrived.
"""

import asyncio
import time

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class Fetch(Event):
    source: str


class Fetched(Event):
    source: str
    items: int


class Stats(Event):
    words: int


@step
async def plan(ctx: Context, ev: StartEvent) -> list[Event]:
    ctx.set("started", time.perf_counter())
    return [Fetch(source=s) for s in ev.sources] + [Stats(words=len(ev.topic.split()))]


@step
async def fetch(ctx: Context, ev: Fetch) -> Fetched:
    await asyncio.sleep(0.2)  # an I/O call; all fetches wait at the same time
    return Fetched(source=ev.source, items=len(ev.source))


@step
async def join(ctx: Context, ev: Fetched | Stats) -> StopEvent | None:
    events = ctx.collect_events(ev, [Fetched, Fetched, Fetched, Stats])
    if events is None:
        return None  # still waiting for the others
    *fetched, stats = events
    elapsed = time.perf_counter() - ctx.get("started")
    return StopEvent(
        result={
            "sources": sorted(f.source for f in fetched),
            "items": sum(f.items for f in fetched),
            "topic_words": stats.words,
            "concurrent": elapsed < 0.5,  # three 0.2 s fetches in sequence would take 0.6 s
        }
    )


async def main() -> None:
    workflow = Workflow("fan-in", [plan, fetch, join])
    result = await workflow.run(topic="event driven workflows", sources=["web", "docs", "wiki"])
    for key, value in result.result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
