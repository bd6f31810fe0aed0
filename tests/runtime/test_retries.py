"""Retries: attempt numbers, backoff with a cap and jitter, retry_on, and every attempt seen."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from blazen import (
    Context,
    StartEvent,
    StepError,
    StepRetryEvent,
    StopEvent,
    Workflow,
    WorkflowValidationError,
    step,
)
from blazen._runtime.invoke import retry_delay
from blazen.step import get_step_spec


def _flaky(fail_times: int, exc: type[Exception] = ConnectionError, **options: object) -> Workflow:
    """A one-step workflow whose step fails ``fail_times`` times, then returns its attempts."""
    seen: list[int] = []

    @step(**options)  # type: ignore[call-overload]
    async def flaky(ctx: Context, ev: StartEvent) -> StopEvent:
        seen.append(ctx.attempt())
        if len(seen) <= fail_times:
            raise exc(f"failure {len(seen)}")
        return StopEvent(result=seen)

    return Workflow(f"flaky-{fail_times}-{exc.__name__}", [flaky])


async def test_the_step_reads_its_attempt_number_and_every_retry_is_streamed() -> None:
    handler = await _flaky(2, retries=3).run_with_handler()
    notices = [e async for e in handler.stream_events() if isinstance(e, StepRetryEvent)]
    assert (await handler.result()).result == [1, 2, 3]
    assert [(n.step, n.attempt, n.error_type, n.error_message) for n in notices] == [
        ("flaky", 1, "ConnectionError", "failure 1"),
        ("flaky", 2, "ConnectionError", "failure 2"),
    ]


async def test_retries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="blazen"):
        await _flaky(1, retries=1).run()
    (record,) = [r for r in caplog.records if r.name == "blazen"]
    assert "step 'flaky' attempt 1 of 2 failed (ConnectionError: failure 1)" in record.getMessage()


async def test_retry_on_retries_only_the_listed_errors() -> None:
    result = await _flaky(1, TimeoutError, retries=2, retry_on=[TimeoutError]).run()
    assert result.result == [1, 2]
    with pytest.raises(StepError, match="ValueError: failure 1") as info:
        await _flaky(1, ValueError, retries=2, retry_on=[TimeoutError]).run()
    assert isinstance(info.value.__cause__, ValueError)  # not retried: one attempt only


async def test_retries_spent_fail_the_run_with_the_last_error() -> None:
    with pytest.raises(StepError, match="ConnectionError: failure 3"):
        await _flaky(5, retries=2).run()


def _spec(**options: object) -> object:
    @step(**options)  # type: ignore[call-overload]
    async def s(ctx: Context, ev: StartEvent) -> None:
        return None

    return get_step_spec(s)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    spec = _spec(retries=6, retry_delay=0.5, retry_backoff=2, retry_max_delay=3)
    assert [retry_delay(spec, a) for a in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]  # type: ignore[arg-type]
    fixed = _spec(retries=2, retry_delay=0.25)
    assert [retry_delay(fixed, a) for a in (1, 2)] == [0.25, 0.25]  # type: ignore[arg-type]


def test_jitter_takes_at_most_its_fraction_off_each_delay() -> None:
    spec = _spec(retries=3, retry_delay=1.0, retry_backoff=2, retry_jitter=0.5)
    delays = [retry_delay(spec, 2) for _ in range(200)]  # type: ignore[arg-type]
    assert all(1.0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100  # drawn at random, not one fixed value


async def test_the_delay_is_waited_between_attempts() -> None:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    @step(retries=2, retry_delay=0.05, retry_backoff=2)
    async def timed(ctx: Context, ev: StartEvent) -> StopEvent:
        times.append(loop.time())
        if len(times) < 3:
            raise ConnectionError("again")
        return StopEvent(result=None)

    await Workflow("timed-retries", [timed]).run()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.05  # lower bounds only: a busy loop may wait longer
    assert gaps[1] >= 0.1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_backoff": 0.5}, "retry_backoff must be a finite number >= 1"),
        ({"retry_backoff": True}, "retry_backoff must be a finite number >= 1"),
        ({"retry_max_delay": 0}, "retry_max_delay must be a finite number of seconds > 0"),
        ({"retry_jitter": 1.5}, "retry_jitter must be a fraction between 0 and 1"),
        ({"retry_on": []}, "retry_on must be a non-empty list of exception classes"),
        ({"retry_on": [int]}, "retry_on holds <class 'int'>, not an Exception class"),
    ],
)
def test_bad_retry_options_are_clear_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(WorkflowValidationError, match=message.replace("(", r"\(")):
        _spec(retries=1, **options)
