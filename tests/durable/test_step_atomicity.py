"""Each commit carries only its own step's work: never half-done work of a step still running.

A "crash" is simulated by halting the run without any further commit (the process
would die here), then resuming it from the store in the same process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from blazen import Context, Event, StartEvent, StopEvent, Workflow, WorkflowError, step
from blazen.stores.memory import MemoryStore


class A(Event):
    pass


class B(Event):
    pass


class D(Event):
    i: int


class Late(Event):
    pass


def _crash(handler: object) -> None:
    handler._run.halt("cancelled", WorkflowError("simulated crash"))  # type: ignore[attr-defined]


async def _until(check: Callable[[], Awaitable[bool]], what: str, limit: float = 5.0) -> None:
    """Poll the store (``check``) until it is true; fail naming ``what`` after ``limit`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0)


async def _committed(store: MemoryStore, run_id: str, step_name: str) -> bool:
    return any(c.step == step_name for c in await store.checkpoints(run_id))


async def test_a_commit_does_not_carry_another_running_steps_writes() -> None:
    a_wrote, a_may_end = asyncio.Event(), asyncio.Event()

    @step
    async def split(ctx: Context, ev: StartEvent) -> list[Event]:
        ctx.set("counter", 0)
        return [A(), B()]

    @step
    async def slow_a(ctx: Context, ev: A) -> StopEvent:
        ctx.set("counter", ctx.get("counter") + 1)  # written, but A has not finished
        a_wrote.set()
        await a_may_end.wait()
        return StopEvent(result=ctx.get("counter"))

    @step
    async def fast_b(ctx: Context, ev: B) -> None:
        await a_wrote.wait()
        ctx.set("b_done", True)

    store = MemoryStore()
    wf = Workflow("atomic-writes", [split, slow_a, fast_b], store=store)
    handler = await wf.run_with_handler()
    await _until(lambda: _committed(store, handler.run_id, "fast_b"), "B has committed")
    assert not a_may_end.is_set()  # A is in the middle of its step
    history = await store.checkpoints(handler.run_id)
    assert [c.writes for c in history if c.step == "fast_b"] == [("b_done",)]
    loaded = await store.load(handler.run_id)
    assert loaded.context_state["counter"].as_json() == 0
    _crash(handler)
    a_may_end.set()
    resumed = await wf.resume_run(handler.run_id)
    assert (await resumed.result()).result == 1  # A ran once more from counter == 0


async def test_a_buffered_event_is_committed_with_the_step_that_buffered_it() -> None:
    buffered, release = asyncio.Event(), asyncio.Event()

    @step
    async def split(ctx: Context, ev: StartEvent) -> list[Event]:
        return [D(i=0), B(), Late()]

    @step
    async def join(ctx: Context, ev: D) -> StopEvent | None:
        got = ctx.collect_events(ev, [D, D])
        if got is None:
            buffered.set()
            await release.wait()  # still running when B commits
            return None
        return StopEvent(result=[e.i for e in got])

    @step
    async def other(ctx: Context, ev: B) -> None:
        await buffered.wait()

    @step
    async def late(ctx: Context, ev: Late) -> D:
        await release.wait()
        return D(i=1)

    store = MemoryStore()
    wf = Workflow("atomic-collect", [split, join, other, late], store=store)
    handler = await wf.run_with_handler()
    await _until(lambda: _committed(store, handler.run_id, "other"), "B has committed")
    assert (await store.load(handler.run_id)).collected == {}  # join has not committed
    _crash(handler)
    release.set()
    resumed = await wf.resume_run(handler.run_id)
    assert (await resumed.result()).result == [0, 1]  # D(0) buffered once, not twice


async def test_a_take_before_the_add_commits_is_applied_in_order() -> None:
    @step
    async def split(ctx: Context, ev: StartEvent) -> list[D]:
        return [D(i=0), D(i=1)]

    completed = asyncio.Event()

    @step
    async def join(ctx: Context, ev: D) -> StopEvent | None:
        got = ctx.collect_events(ev, [D, D])
        if got is None:
            await completed.wait()  # the second delivery completes the set meanwhile
            return None
        completed.set()
        return StopEvent(result=sorted(e.i for e in got))

    store = MemoryStore()
    handler = await Workflow("take-early", [split, join], store=store).run_with_handler()
    assert (await handler.result()).result == [0, 1]
    assert (await store.load(handler.run_id)).collected == {}


async def test_an_event_buffered_by_a_committed_step_survives_a_crash() -> None:
    second = asyncio.Event()

    @step
    async def split(ctx: Context, ev: StartEvent) -> list[Event]:
        return [D(i=0), Late()]

    @step
    async def join(ctx: Context, ev: D) -> StopEvent | None:
        got = ctx.collect_events(ev, [D, D])
        return None if got is None else StopEvent(result=[e.i for e in got])

    @step
    async def late(ctx: Context, ev: Late) -> D:
        await second.wait()  # never set before the crash
        return D(i=1)

    store = MemoryStore()
    wf = Workflow("buffer-survives", [split, join, late], store=store)
    handler = await wf.run_with_handler()
    await _until(lambda: _committed(store, handler.run_id, "join"), "join buffered D(0)")
    assert [d["i"] for d in (await store.load(handler.run_id)).collected[D.event_type]] == [0]
    _crash(handler)
    second.set()
    resumed = await wf.resume_run(handler.run_id)
    assert (await resumed.result()).result == [0, 1]  # D(0) came back from the store
