"""``ctx.edit_state``: read-modify-write of one key without lost updates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from blazen import BlazenState, Context, ContextError, Event, StartEvent, StopEvent, Workflow, step


class Job(Event):
    i: int


class Done(Event):
    i: int


def _jobs_workflow(name: str, safe: bool, n: int = 5) -> Workflow:
    """``n`` concurrent jobs each append their number to one list key, yielding in between."""
    all_read = asyncio.Event()
    reads = 0

    @step
    async def fan(ctx: Context, ev: StartEvent) -> list[Job]:
        ctx.set("seen", [])
        return [Job(i=i) for i in range(n)]

    @step
    async def job(ctx: Context, ev: Job) -> Done:
        nonlocal reads
        if safe:
            async with ctx.edit_state("seen") as edit:
                await asyncio.sleep(0)  # other jobs run meanwhile, and must wait for this edit
                edit.value = [*edit.value, ev.i]
        else:
            seen = ctx.get("seen")
            reads += 1
            if reads == n:
                all_read.set()
            await all_read.wait()  # every job has read the list before any writes it back
            ctx.set("seen", [*seen, ev.i])
        return Done(i=ev.i)

    @step
    async def join(ctx: Context, ev: Done) -> StopEvent | None:
        if ctx.collect_events(ev, [Done] * n) is None:
            return None
        return StopEvent(result=sorted(ctx.get("seen")))

    return Workflow(name, [fan, job, join], timeout=10)


async def test_get_await_set_loses_updates_which_edit_state_prevents() -> None:
    lost = (await _jobs_workflow("lost-updates", safe=False).run()).result
    assert len(lost) == 1  # the hazard the docs describe: every job overwrote the others
    kept = (await _jobs_workflow("edit-state", safe=True).run()).result
    assert kept == [0, 1, 2, 3, 4]


async def _abandoned_edit(ctx: Context) -> None:
    async with ctx.edit_state("n", 0) as edit:
        edit.value = 100
        raise RuntimeError("changed my mind")


async def test_edit_state_counts_with_a_default_and_writes_only_on_success() -> None:
    @step
    async def count(ctx: Context, ev: StartEvent) -> StopEvent:
        async with ctx.edit_state("n", 0) as edit:
            edit.value += 1
        async with ctx.edit_state("n", 0) as edit:
            edit.value += 1
        with pytest.raises(RuntimeError, match="changed my mind"):
            await _abandoned_edit(ctx)
        return StopEvent(result=ctx.get("n"))

    assert (await Workflow("edit-count", [count]).run()).result == 2


@dataclass
class Tally(BlazenState):
    total: int = 0
    names: list[str] = field(default_factory=list)


async def test_edit_state_works_for_blazen_state_objects() -> None:
    class Add(Event):
        name: str

    @step
    async def fan(ctx: Context, ev: StartEvent) -> list[Add]:
        ctx.set("tally", Tally())
        return [Add(name=n) for n in ("a", "b", "c")]

    @step
    async def add(ctx: Context, ev: Add) -> Done:
        async with ctx.edit_state("tally") as edit:
            await asyncio.sleep(0)
            edit.value.total += 1
            edit.value.names.append(ev.name)
        return Done(i=0)

    @step
    async def join(ctx: Context, ev: Done) -> StopEvent | None:
        if ctx.collect_events(ev, [Done] * 3) is None:
            return None
        tally = ctx.get("tally")
        return StopEvent(result=(type(tally).__name__, tally.total, sorted(tally.names)))

    result = await Workflow("edit-blazen-state", [fan, add, join]).run()
    assert result.result == ("Tally", 3, ["a", "b", "c"])


async def test_edit_state_rejects_a_bad_key() -> None:
    ctx = Context("r")
    with pytest.raises(ContextError, match="keys must be str"):
        await ctx.edit_state(3).__aenter__()  # type: ignore[arg-type]


async def test_attempt_outside_a_step_is_an_error() -> None:
    from blazen import WorkflowError

    with pytest.raises(WorkflowError, match="inside a running step"):
        Context("r").attempt()
