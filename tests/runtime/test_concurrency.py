"""Fan-out, concurrency limits, ctx.send_event, and the first StopEvent ending a run."""

from __future__ import annotations

import asyncio
import threading

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, WorkflowError, step
from waiting import quiet_loop


class Job(Event):
    i: int


class Done(Event):
    i: int


class High(Event):
    score: int


class Low(Event):
    score: int


@step
async def fan_out(ctx: Context, ev: StartEvent) -> list[Job]:
    return [Job(i=i) for i in range(ev.n)]


def gather_step(n: int):  # type: ignore[no-untyped-def]
    @step
    async def gather(ctx: Context, ev: Done) -> StopEvent | None:
        got = ctx.collect_events(ev, [Done] * n)
        return None if got is None else StopEvent(result=sorted(e.i for e in got))

    return gather


async def test_fan_out_events_are_handled_concurrently() -> None:
    # Every Job waits until all of them have started: this finishes only if they overlap.
    n = 5
    started = 0
    all_started = asyncio.Event()

    @step
    async def work(ctx: Context, ev: Job) -> Done:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), 2)
        return Done(i=ev.i)

    wf = Workflow("fan-out", [fan_out, work, gather_step(n)], timeout=5)
    stop = await (await wf.run_with_handler(n=n)).result()
    assert stop.result == list(range(n))


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_max_concurrency_is_respected(limit: int) -> None:
    # Everything is queued at once; the first ``limit`` deliveries wait until all of them
    # run, so the limit is reached; ``peak`` says whether it was ever passed.
    active = peak = 0
    full = asyncio.Event()

    @step(max_concurrency=limit)
    async def work(ctx: Context, ev: Job) -> Done:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == limit:
            full.set()
        if ev.i < limit:
            await asyncio.wait_for(full.wait(), 5)
        await asyncio.sleep(0)  # suspend: a second worker may take the next delivery
        active -= 1
        return Done(i=ev.i)

    wf = Workflow(f"limit-{limit}", [fan_out, work, gather_step(8)])
    stop = await (await wf.run_with_handler(n=8)).result()
    assert stop.result == list(range(8))
    assert peak == limit


class Probe(Event):
    pass


@pytest.mark.parametrize("limit", [1, 2])
async def test_max_concurrency_holds_for_events_sent_one_at_a_time(limit: int) -> None:
    # A delivery that arrives while ``limit`` others of the step run must wait, even though
    # a worker is free: the producer sends one more Job once ``limit`` are running, then a
    # Probe (another step, queued after that Job). The Probe step runs first and releases
    # the running Jobs; the extra Job may only start after one of them ends.
    active = peak = 0
    started: list[int] = []
    running = asyncio.Event()
    release = asyncio.Event()

    @step
    async def produce(ctx: Context, ev: StartEvent) -> None:
        for i in range(limit):
            ctx.send_event(Job(i=i))
        await asyncio.wait_for(running.wait(), 5)
        ctx.send_event(Job(i=limit))
        ctx.send_event(Probe())

    @step(max_concurrency=limit)
    async def work(ctx: Context, ev: Job) -> Done:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        started.append(ev.i)
        if active == limit:
            running.set()
        if ev.i < limit:
            await asyncio.wait_for(release.wait(), 5)
        active -= 1
        return Done(i=ev.i)

    @step
    async def probe(ctx: Context, ev: Probe) -> None:
        assert started == list(range(limit)), started  # the extra Job has not started
        release.set()

    wf = Workflow(f"sent-limit-{limit}", [produce, work, probe, gather_step(limit + 1)])
    assert set(wf.graph.routes) >= {"Job", "Probe", "Done"}
    stop = await (await wf.run_with_handler()).result()
    assert stop.result == list(range(limit + 1))
    assert peak == limit
    assert started == list(range(limit + 1))


async def test_max_concurrency_zero_is_unlimited() -> None:
    active = peak = 0
    all_in = asyncio.Event()

    @step(max_concurrency=0)
    async def work(ctx: Context, ev: Job) -> Done:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 6:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), 5)  # ends only if all six overlap
        active -= 1
        return Done(i=ev.i)

    await (
        await Workflow("unlimited", [fan_out, work, gather_step(6)]).run_with_handler(n=6)
    ).result()
    assert peak == 6


async def test_max_concurrency_applies_to_plain_def_steps() -> None:
    # The first two deliveries meet at a barrier (so two do run at once); a third one
    # running meanwhile would be seen in ``peak``.
    lock = threading.Lock()
    barrier = threading.Barrier(2, timeout=5)
    active = peak = 0

    @step(max_concurrency=2)
    def work(ctx: Context, ev: Job) -> Done:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        if ev.i < 2:
            barrier.wait()
        with lock:
            active -= 1
        return Done(i=ev.i)

    await (
        await Workflow("limit-thread", [fan_out, work, gather_step(6)]).run_with_handler(n=6)
    ).result()
    assert peak == 2


async def test_plain_def_steps_overlap_in_threads() -> None:
    barrier = threading.Barrier(3, timeout=2)
    idents: set[int] = set()

    @step
    def work(ctx: Context, ev: Job) -> Done:
        idents.add(threading.get_ident())
        barrier.wait()  # breaks (and fails the step) unless all three run at once
        return Done(i=ev.i)

    stop = await (
        await Workflow("threads", [fan_out, work, gather_step(3)]).run_with_handler(n=3)
    ).result()
    assert stop.result == [0, 1, 2]
    assert threading.get_ident() not in idents
    assert len(idents) == 3


async def test_empty_fan_out_emits_nothing() -> None:
    @step
    async def start(ctx: Context, ev: StartEvent) -> list[Job] | StopEvent:
        return [] if ev.empty else StopEvent(result="not empty")

    @step
    async def work(ctx: Context, ev: Job) -> StopEvent:
        return StopEvent()

    wf = Workflow("empty-fan-out", [start, work])
    assert (await (await wf.run_with_handler(empty=False)).result()).result == "not empty"
    with pytest.raises(WorkflowError, match="stalled"):
        await (await wf.run_with_handler(empty=True)).result()


# -- ctx.send_event -------------------------------------------------------------------------
@step
async def score(ctx: Context, ev: StartEvent) -> None:
    if ev.score >= 50:
        ctx.send_event(High(score=ev.score))
    else:
        ctx.send_event(Low(score=ev.score))


@step
async def on_high(ctx: Context, ev: High) -> StopEvent:
    return StopEvent(result=f"high:{ev.score}")


@step
async def on_low(ctx: Context, ev: Low) -> StopEvent:
    return StopEvent(result=f"low:{ev.score}")


async def test_send_event_routes_from_inside_a_step() -> None:
    wf = Workflow("send-event", [score, on_high, on_low])
    assert (await (await wf.run_with_handler(score=90)).result()).result == "high:90"
    assert (await (await wf.run_with_handler(score=10)).result()).result == "low:10"


async def test_send_event_from_a_plain_def_step() -> None:
    @step
    def fan(ctx: Context, ev: StartEvent) -> None:
        for i in range(4):
            ctx.send_event(Done(i=i))

    wf = Workflow("send-from-thread", [fan, gather_step(4)])
    assert (await (await wf.run_with_handler()).result()).result == [0, 1, 2, 3]


async def test_send_event_and_return_value_both_route() -> None:
    @step
    async def both(ctx: Context, ev: StartEvent) -> Done:
        await ctx.asend_event(Done(i=0))
        return Done(i=1)

    wf = Workflow("send-and-return", [both, gather_step(2)])
    assert (await (await wf.run_with_handler()).result()).result == [0, 1]


async def test_send_event_is_routed_before_the_step_ends() -> None:
    reached = asyncio.Event()

    @step
    async def sender(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.send_event(Job(i=1))
        await asyncio.wait_for(reached.wait(), 2)
        return StopEvent(result="sender finished after receiver ran")

    @step
    async def receiver(ctx: Context, ev: Job) -> None:
        reached.set()

    stop = await (await Workflow("send-now", [sender, receiver]).run_with_handler()).result()
    assert stop.result == "sender finished after receiver ran"


async def test_send_event_outside_a_step_is_an_error(ctx: Context) -> None:
    with pytest.raises(WorkflowError, match="inside a running step"):
        ctx.send_event(Job(i=1))

    @step
    async def keep(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent()

    handler = await Workflow("send-outside", [keep]).run_with_handler()
    await handler.result()
    with pytest.raises(WorkflowError, match="inside a running step"):
        handler.context.send_event(Job(i=1))


async def test_send_event_needs_an_event() -> None:
    @step
    async def bad(ctx: Context, ev: StartEvent) -> None:
        ctx.send_event({"not": "an event"})  # type: ignore[arg-type]

    with pytest.raises(WorkflowError, match="send_event needs an Event, not dict") as info:
        await (await Workflow("send-bad", [bad]).run_with_handler()).result()
    assert isinstance(info.value.__cause__, TypeError)


# -- the first StopEvent ends the run ------------------------------------------------------
async def test_first_stop_event_wins_and_cancels_running_steps() -> None:
    slow_started = asyncio.Event()
    cancelled = asyncio.Event()
    late_results: list[str] = []

    @step
    async def start(ctx: Context, ev: StartEvent) -> list[Job]:
        return [Job(i=0), Job(i=1)]

    @step
    async def race(ctx: Context, ev: Job) -> StopEvent:
        if ev.i == 0:
            await asyncio.wait_for(slow_started.wait(), 5)  # the other one is running now
            return StopEvent(result="fast")
        slow_started.set()
        try:
            await asyncio.Event().wait()  # never set: only a cancellation ends this
        except asyncio.CancelledError:
            cancelled.set()
            raise
        late_results.append("slow")
        return StopEvent(result="slow")

    handler = await Workflow("first-stop", [start, race]).run_with_handler()
    assert (await handler.result()).result == "fast"
    await asyncio.wait_for(cancelled.wait(), 5)
    assert late_results == []
    assert handler.status == "completed"


async def test_events_after_the_stop_event_are_dropped() -> None:
    ran: list[int] = []

    @step
    async def start(ctx: Context, ev: StartEvent) -> list[Event]:
        return [StopEvent(result="stop"), Job(i=1), Job(i=2)]

    @step
    async def work(ctx: Context, ev: Job) -> None:
        ran.append(ev.i)

    handler = await Workflow("stop-first", [start, work]).run_with_handler()
    assert (await handler.result()).result == "stop"
    await quiet_loop()  # every task of the run has ended: nothing can deliver a Job later
    assert ran == []


class Tick(Event):
    n: int


async def test_steps_still_overlap_after_a_long_run_of_quick_steps() -> None:
    # A worker lets others in every 64 steps; suspended steps after that must overlap.
    n = 3
    started = 0
    all_started = asyncio.Event()

    @step
    async def tick(ctx: Context, ev: StartEvent | Tick) -> Tick | list[Job]:
        count = getattr(ev, "n", 0)
        return Tick(n=count + 1) if count < 200 else [Job(i=i) for i in range(n)]

    @step
    async def work(ctx: Context, ev: Job) -> Done:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), 5)  # ends only if all three overlap
        return Done(i=ev.i)

    wf = Workflow("long-then-fan-out", [tick, work, gather_step(n)], timeout=20)
    stop = await (await wf.run_with_handler()).result()
    assert stop.result == list(range(n))


async def test_a_long_run_of_quick_steps_lets_other_tasks_in() -> None:
    # Steps that never suspend run back to back, but not for ever: every 64 steps the
    # worker yields, so another task of the loop gets turns while the run goes on.
    turns_during_run = 0
    finished = False

    async def other_task() -> None:
        nonlocal turns_during_run
        while not finished:
            turns_during_run += 1
            await asyncio.sleep(0)

    @step
    async def tick(ctx: Context, ev: StartEvent | Tick) -> Tick | StopEvent:
        count = getattr(ev, "n", 0)
        return Tick(n=count + 1) if count < 1000 else StopEvent(result=turns_during_run)

    spinner = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)  # the spinner starts
    try:
        result = (await Workflow("fair", [tick], timeout=20).run()).result
    finally:
        finished = True
        await spinner
    assert result >= 1000 // 64 - 1  # about one turn per 64 steps


class Countdown(Event):
    n: int


async def test_ready_steps_take_turns_one_delivery_each() -> None:
    # Steps that never suspend take turns (round-robin, one delivery each), also when one
    # of them keeps re-emitting to itself and the worker runs its deliveries back to back.
    log: list[str] = []

    @step
    async def fan(ctx: Context, ev: StartEvent) -> list[Event]:
        return [*(Job(i=i) for i in range(4)), Countdown(n=3)]

    @step
    async def job(ctx: Context, ev: Job) -> Done:
        log.append(f"a{ev.i}")
        return Done(i=ev.i)

    @step
    async def done(ctx: Context, ev: Done) -> StopEvent | None:
        log.append(f"b{ev.i}")
        return StopEvent(result=log) if ev.i == 3 and ctx.get("c_done") else None

    @step
    async def countdown(ctx: Context, ev: Countdown) -> Countdown | None:
        log.append(f"c{ev.n}")
        if ev.n == 0:
            ctx.set("c_done", True)
            return None
        return Countdown(n=ev.n - 1)

    result = (await Workflow("turns", [fan, job, done, countdown]).run()).result
    assert " ".join(result) == "a0 c3 a1 b0 c2 a2 b1 c1 a3 b2 c0 b3"
