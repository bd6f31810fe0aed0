"""Real workflows whose durable runs the viewer tests look at, and ``make_runs`` to run them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StepError,
    StopEvent,
    Workflow,
    step,
)
from blazen.stores import CheckpointStore, open_store

UNPICKLED: list[str] = []
"""Appended to if anything ever unpickles a ``Trap`` (the viewer must not)."""


def _sprung(tag: str) -> Trap:
    UNPICKLED.append(tag)
    return Trap(tag)


class Trap:
    """A context value stored pickled (Native); unpickling it leaves a trace in UNPICKLED."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sprung, (self.tag,))


class Item(Event):
    """One piece of work."""

    n: int


class Done(Event):
    """A finished piece."""

    n: int
    square: int


@step
async def fan_out(ctx: Context, ev: StartEvent) -> list[Item]:
    """Fan out ``count`` items; write a JSON key that a later step deletes."""
    count = int(getattr(ev, "count", 3))
    ctx.set("config", {"count": count, "label": "squares"})
    ctx.set("scratch", "deleted by the collector")
    return [Item(n=i) for i in range(count)]


@step(max_concurrency=2, retries=1)
async def work(ctx: Context, ev: Item) -> Done:
    """Square one item; store bytes and a pickled object beside the JSON."""
    ctx.set_bytes(f"blob/{ev.n}", bytes(range(ev.n, ev.n + 40)))
    ctx.set(f"trap/{ev.n}", Trap(f"item {ev.n}"))
    return Done(n=ev.n, square=ev.n * ev.n)


@step
async def collect(ctx: Context, ev: Done) -> StopEvent | None:
    """Fan in: the sum of the squares ends the run."""
    done = ctx.collect_events(ev, [Done] * ctx.get("config")["count"])
    if done is None:
        return None
    ctx.delete("scratch")
    return StopEvent(result={"sum": sum(d.square for d in done)})


@step
async def explode(ctx: Context, ev: StartEvent) -> StopEvent:
    """Always fails (a failed run)."""
    ctx.set("before", "the failure")
    raise ValueError("boom: the disk is full")


@step
async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    """Asks a question (a run left waiting for input)."""
    ctx.set("asked", True)
    return InputRequestEvent(
        request_id="approve", prompt="Ship it? <yes/no>", metadata={"risk": "low"}
    )


@step
async def answer(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    """Ends with the answer."""
    return StopEvent(result={"answer": ev.response})


class Again(Event):
    """Loops back to the step that returned it."""

    tries: int


@step
async def retry_loop(ctx: Context, ev: StartEvent | Again) -> Again | StopEvent:
    """Returns ``Again`` twice, then stops (a cycle in the graph)."""
    tries = getattr(ev, "tries", 0)
    return Again(tries=tries + 1) if tries < 2 else StopEvent(result=tries)


@step(accepts=["Note"])
async def note(ctx: Context, ev: Event) -> Any:
    """Accepts an event type by name only; its return type says nothing."""
    return None


@step(emits=["Note"])
async def send_note(ctx: Context, ev: StartEvent) -> None:
    """Sends a Note with ``send_event`` (declared with ``emits=``)."""
    ctx.send_event(Event("Note"))


def looping(store: CheckpointStore | None = None) -> Workflow:
    return Workflow("ui-looping", [retry_loop, note, send_note], store=store)


def pipeline(store: CheckpointStore | None = None) -> Workflow:
    return Workflow("ui-pipeline", [fan_out, work, collect], store=store)


def failing(store: CheckpointStore | None = None) -> Workflow:
    return Workflow("ui-failing", [explode], store=store)


def asking(store: CheckpointStore | None = None) -> Workflow:
    return Workflow("ui-asking", [ask, answer], store=store)


async def run_all(store: CheckpointStore) -> dict[str, str]:
    """Run each workflow durably on ``store``: names -> run ids (oldest first)."""
    ids: dict[str, str] = {}
    handler = await pipeline(store).run_with_handler(count=3)
    assert (await handler.result()).result == {"sum": 5}
    ids["pipeline"] = handler.run_id
    handler = await failing(store).run_with_handler()
    with pytest.raises(StepError, match="boom: the disk is full"):
        await handler.result()
    ids["failed"] = handler.run_id
    handler = await asking(store).run_with_handler()
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break
    await handler.pause()
    ids["asking"] = handler.run_id
    return ids


def make_runs(path: Path) -> dict[str, str]:
    """A SQLite store at ``path`` holding one run of each workflow."""

    async def main() -> dict[str, str]:
        store = open_store(f"sqlite:///{path}")
        try:
            return await run_all(store)
        finally:
            await store.close()

    return asyncio.run(main())
