"""How runs fail: StepError, retries, timeouts, unroutable events, stalls, abort."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import sys
import time

import pytest

from blazen import (
    Context,
    Event,
    RunAbortedError,
    RunStalledError,
    StartEvent,
    StepError,
    StepTimeoutError,
    StopEvent,
    UnroutableEventError,
    Workflow,
    WorkflowError,
    WorkflowTimeoutError,
    step,
)


class Mid(Event):
    n: int = 0


class Nobody(Event):
    pass


STALLED = "stalled: no event is pending, no step is running and no StopEvent was returned"


async def run_to_error(wf: Workflow, match: str, **kwargs: object) -> tuple[BaseException, str]:
    """Run ``wf`` to its error, which must match ``match``; the error and the run id."""
    handler = await wf.run_with_handler(**kwargs)
    with pytest.raises(WorkflowError, match=match) as info:
        await asyncio.wait_for(handler.result(), 10)
    return info.value, handler.run_id


def _never() -> asyncio.Future[None]:
    """A future nobody resolves: a step awaiting it runs until it is cancelled."""
    return asyncio.get_running_loop().create_future()


def test_error_hierarchy() -> None:
    for cls in (StepError, UnroutableEventError, WorkflowTimeoutError):
        assert issubclass(cls, WorkflowError)
    assert issubclass(WorkflowTimeoutError, TimeoutError)


async def test_step_error_names_the_step_and_run_and_keeps_the_cause() -> None:
    original = ValueError("bad input")

    @step
    async def start(ctx: Context, ev: StartEvent) -> Mid:
        return Mid()

    @step
    async def explode(ctx: Context, ev: Mid) -> StopEvent:
        raise original

    err, run_id = await run_to_error(
        Workflow("step-error", [start, explode]), "step 'explode' failed .*ValueError: bad input"
    )
    assert isinstance(err, StepError)
    assert err.step_name == "explode"
    assert err.run_id == run_id
    assert err.__cause__ is original
    assert "explode" in str(err)
    assert run_id in str(err)
    assert "bad input" in str(err)


async def test_step_error_from_a_plain_def_step() -> None:
    @step
    def explode(ctx: Context, ev: StartEvent) -> StopEvent:
        raise KeyError("missing")

    err, _ = await run_to_error(Workflow("thread-error", [explode]), "KeyError: 'missing'")
    assert isinstance(err, StepError)
    assert isinstance(err.__cause__, KeyError)
    assert err.step_name == "explode"


async def test_a_failing_step_cancels_the_others() -> None:
    cancelled = asyncio.Event()
    other_started = asyncio.Event()

    @step
    async def start(ctx: Context, ev: StartEvent) -> list[Mid]:
        return [Mid(n=0), Mid(n=1)]

    @step
    async def work(ctx: Context, ev: Mid) -> StopEvent:
        if ev.n == 0:
            await asyncio.wait_for(other_started.wait(), 5)
            raise RuntimeError("fail fast")
        other_started.set()
        try:
            await _never()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return StopEvent()

    err, _ = await run_to_error(Workflow("fail-cancels", [start, work]), "RuntimeError: fail fast")
    assert isinstance(err, StepError)
    await asyncio.wait_for(cancelled.wait(), 5)


# -- retries ----------------------------------------------------------------------------
async def test_retries_then_success() -> None:
    attempts = 0

    @step(retries=2)
    async def flaky(ctx: Context, ev: StartEvent) -> StopEvent:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError(f"attempt {attempts}")
        return StopEvent(result=attempts)

    stop = await (await Workflow("retry-ok", [flaky]).run_with_handler()).result()
    assert stop.result == 3


async def test_retries_spent_then_step_error() -> None:
    attempts = 0

    @step(retries=2)
    async def always(ctx: Context, ev: StartEvent) -> StopEvent:
        nonlocal attempts
        attempts += 1
        raise ConnectionError(f"attempt {attempts}")

    err, _ = await run_to_error(Workflow("retry-spent", [always]), "ConnectionError: attempt 3")
    assert attempts == 3
    assert isinstance(err, StepError)
    assert str(err.__cause__) == "attempt 3"


async def test_no_retries_by_default() -> None:
    attempts = 0

    @step
    async def once(ctx: Context, ev: StartEvent) -> StopEvent:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    await run_to_error(Workflow("no-retry", [once]), "step 'once' failed .*ConnectionError")
    assert attempts == 1


async def test_retry_delay_waits_between_attempts() -> None:
    times: list[float] = []

    @step(retries=2, retry_delay=0.05)
    def flaky(ctx: Context, ev: StartEvent) -> StopEvent:
        times.append(time.perf_counter())
        if len(times) < 3:
            raise ConnectionError
        return StopEvent(result=len(times))

    assert (await (await Workflow("retry-delay", [flaky]).run_with_handler()).result()).result == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.045 for gap in gaps), gaps


# -- timeouts ---------------------------------------------------------------------------
async def test_step_timeout() -> None:
    @step(timeout=0.05)
    async def slow(ctx: Context, ev: StartEvent) -> StopEvent:
        await _never()  # only the step timeout ends this
        return StopEvent()

    err, _ = await run_to_error(
        Workflow("step-timeout", [slow]), "step 'slow' timed out: it did not finish within 0.05 s"
    )
    assert type(err) is StepTimeoutError  # a StepError that says the step ran out of time
    assert err.step_name == "slow"
    assert isinstance(err.__cause__, WorkflowTimeoutError)


async def test_step_timeout_is_per_attempt_with_retries() -> None:
    attempts = 0

    @step(timeout=0.05, retries=1)
    async def slow_once(ctx: Context, ev: StartEvent) -> StopEvent:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await _never()  # the first attempt times out
        return StopEvent(result=attempts)

    assert (
        await (await Workflow("timeout-retry", [slow_once]).run_with_handler()).result()
    ).result == 2


async def test_fast_step_within_its_timeout() -> None:
    @step(timeout=1)
    def quick(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result="quick")

    assert (
        await (await Workflow("timeout-ok", [quick]).run_with_handler()).result()
    ).result == "quick"


async def test_workflow_timeout() -> None:
    cancelled = asyncio.Event()

    @step
    async def forever(ctx: Context, ev: StartEvent) -> StopEvent:
        try:
            await _never()  # only the workflow timeout ends this
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return StopEvent()

    err, _ = await run_to_error(
        Workflow("wf-timeout", [forever], timeout=0.05),
        "timed out: it did not finish within 0.05 s",
    )
    assert isinstance(err, WorkflowTimeoutError)
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_workflow_timeout_not_hit() -> None:
    @step
    async def quick(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=1)

    assert (
        await (await Workflow("wf-ok", [quick], timeout=5).run_with_handler()).result()
    ).result == 1


# -- routing failures ----------------------------------------------------------------------
async def test_unroutable_event_names_the_type_and_the_step() -> None:
    @step
    async def emit(ctx: Context, ev: StartEvent) -> Event:
        return Nobody()

    err, _ = await run_to_error(
        Workflow("unroutable", [emit]), r"no step accepts event 'Nobody' \(emitted by step 'emit'\)"
    )
    assert isinstance(err, UnroutableEventError)
    assert err.event_type == "Nobody"
    assert err.source_step == "emit"
    assert "'Nobody'" in str(err)
    assert "'emit'" in str(err)


async def test_unroutable_inline_event_sent_with_send_event() -> None:
    @step
    async def emit(ctx: Context, ev: StartEvent) -> None:
        ctx.send_event(Event("Lost", x=1))

    err, _ = await run_to_error(Workflow("unroutable-send", [emit]), "no step accepts event 'Lost'")
    assert isinstance(err, UnroutableEventError)
    assert (err.event_type, err.source_step) == ("Lost", "emit")


async def test_unroutable_event_in_a_fan_out() -> None:
    @step
    async def emit(ctx: Context, ev: StartEvent) -> list[Event]:
        return [Mid(), Event("Stray")]

    @step
    async def mid(ctx: Context, ev: Mid) -> None:
        await _never()

    err, _ = await run_to_error(
        Workflow("unroutable-list", [emit, mid]), "no step accepts event 'Stray'"
    )
    assert isinstance(err, UnroutableEventError)
    assert err.event_type == "Stray"


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (42, "int"),
        ("text", "str"),
        ({"a": 1}, "dict"),
        ([StopEvent(), "x"], "str"),  # the first element that is not an event
        (StopEvent, "ModelMetaclass"),  # the class, not an instance
    ],
)
async def test_a_step_returning_a_non_event_fails_clearly(bad: object, what: str) -> None:
    @step
    async def wrong(ctx: Context, ev: StartEvent) -> object:
        return bad

    err, _ = await run_to_error(
        Workflow("non-event", [wrong]),
        f"returned {what}; a step returns an Event, a list of events or None",
    )
    assert isinstance(err, StepError)
    assert err.step_name == "wrong"
    assert isinstance(err.__cause__, TypeError)


async def test_a_stalled_run_fails_instead_of_hanging() -> None:
    @step
    async def nothing(ctx: Context, ev: StartEvent) -> None:
        return None

    err, run_id = await run_to_error(Workflow("stall", [nothing]), STALLED)
    assert type(err) is RunStalledError
    assert run_id in str(err)


async def test_a_run_stalled_in_collect_events_fails() -> None:
    @step
    async def start(ctx: Context, ev: StartEvent) -> Mid:
        return Mid()

    @step
    async def join(ctx: Context, ev: Mid) -> StopEvent | None:
        got = ctx.collect_events(ev, [Mid, Mid])
        return None if got is None else StopEvent()

    err, _ = await run_to_error(Workflow("stall-collect", [start, join]), STALLED)
    assert type(err) is RunStalledError


async def test_a_stalled_run_after_a_plain_def_step() -> None:
    @step
    def nothing(ctx: Context, ev: StartEvent) -> None:
        ctx.set("x", 1)

    err, _ = await run_to_error(Workflow("stall-thread", [nothing]), STALLED)
    assert type(err) is RunStalledError


# -- abort -----------------------------------------------------------------------------------
_HAS_PERSIST = importlib.util.find_spec("blazen._runtime.persist") is not None


@pytest.mark.skipif(not _HAS_PERSIST, reason="blazen._runtime.persist (abort_run) not written yet")
async def test_abort_cancels_the_run() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @step
    async def forever(ctx: Context, ev: StartEvent) -> StopEvent:
        started.set()
        try:
            await _never()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return StopEvent()

    handler = await Workflow("abort", [forever]).run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    await handler.abort()
    await asyncio.wait_for(cancelled.wait(), 5)
    with pytest.raises(RunAbortedError, match=f"run {handler.run_id} was aborted"):
        await handler.result()
    assert handler.status == "cancelled"
    await handler.abort()  # aborting again is harmless


async def test_abort_after_completion_is_a_no_op() -> None:
    @step
    async def quick(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result="kept")

    handler = await Workflow("abort-done", [quick]).run_with_handler()
    assert (await handler.result()).result == "kept"
    await handler.abort()
    assert (await handler.result()).result == "kept"


# -- known runtime bugs (blazen/_runtime is not ours to fix) --------------------------------
async def test_a_step_raising_timeout_error_is_not_a_step_timeout() -> None:
    original = TimeoutError("the database did not answer")

    @step(timeout=5)
    async def query(ctx: Context, ev: StartEvent) -> StopEvent:
        raise original

    err, _ = await run_to_error(
        Workflow("own-timeout", [query]), "TimeoutError: the database did not answer"
    )
    assert isinstance(err, StepError)
    assert err.__cause__ is original


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="3.10 cannot tell a step's own CancelledError from a cancel"
)
async def test_a_step_raising_cancelled_error_fails_the_run() -> None:
    @step
    async def awaits_cancelled(ctx: Context, ev: StartEvent) -> StopEvent:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.cancel()
        await fut  # raises CancelledError although nobody cancelled this task
        return StopEvent()

    await run_to_error(
        Workflow("own-cancel", [awaits_cancelled]),
        "step 'awaits_cancelled' failed .*CancelledError",
    )
