"""Workflows whose graphs the tests draw (``tests/graph/flows.py:<name>`` as CLI TARGETs)."""

from __future__ import annotations

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class Job(Event):
    """Sent with ``ctx.send_event`` (declared with ``emits=``)."""

    url: str


class Retry(Event):
    """Loops back to the same step."""

    tries: int


@step(emits=[Job])
async def dispatch(ctx: Context, ev: StartEvent) -> None:
    """Sends jobs instead of returning them: only ``emits=`` tells the graph."""
    for url in getattr(ev, "urls", []):
        ctx.send_event(Job(url=url))


@step(retries=2, timeout=5.0)
async def fetch(ctx: Context, ev: Job | Retry) -> Retry | StopEvent:
    """Returns a Retry (a cycle) or ends the run."""
    if isinstance(ev, Job):
        return Retry(tries=1)
    return StopEvent(result=ev.tries)


@step(accepts=["Note"])
async def note(ctx: Context, ev: Event):  # type: ignore[no-untyped-def]
    """Accepts an event type by name only, and says nothing of what it returns."""
    return None


@step
async def start_note(ctx: Context, ev: StartEvent) -> Event:
    return Event("Note", text='say "hi" <b>')


crawler = Workflow('crawler "v2"', [dispatch, fetch, note, start_note])
