"""Calling one step: async or in a worker thread, with its timeout and its retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from blazen._call import StepCall
from blazen._tracing import RunObserver
from blazen.errors import WorkflowTimeoutError
from blazen.events import Event
from blazen.step import StepSpec

__all__ = ["RetryHook", "StepTimedOut", "invoke", "retry_delay"]

RetryHook = Callable[[StepSpec, StepCall, Exception, float], None]
"""Told of each failed attempt that will be retried: ``(spec, call, error, delay)``."""


class StepTimedOut(WorkflowTimeoutError):
    """Raised when a step passes its ``timeout=``; the run reports a ``StepTimeoutError``."""

    step_timeout = True


def retry_delay(spec: StepSpec, attempt: int) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): exponential, capped, jittered."""
    delay = spec.retry_delay * spec.retry_backoff ** (attempt - 1)
    if spec.retry_max_delay is not None:
        delay = min(delay, spec.retry_max_delay)
    if spec.retry_jitter:
        delay *= 1.0 - spec.retry_jitter * random.random()
    return delay


async def invoke(
    spec: StepSpec,
    ctx: Any,
    event: Event,
    call: StepCall,
    on_retry: RetryHook,
    observer: RunObserver | None = None,
) -> Any:
    """Run ``spec`` on ``event``; retry failures of the ``retry_on`` types ``spec.retries``
    times (``call.attempt`` counts the attempts), then re-raise. ``observer`` sees each
    attempt begin and end."""
    attempt = 1
    while True:
        call.attempt = attempt
        scope = (
            None
            if observer is None
            else observer.attempt_started(spec.name, attempt, event.event_type)
        )
        try:
            out = await _once(spec, ctx, event)
        except asyncio.CancelledError as exc:
            if observer is not None:
                observer.attempt_ended(scope, (), exc)
            raise
        except Exception as exc:
            if observer is not None:
                observer.attempt_ended(scope, (), exc)
            if attempt > spec.retries or not isinstance(exc, spec.retry_on):
                raise
            delay = retry_delay(spec, attempt)
            on_retry(spec, call, exc, delay)
            attempt += 1
            if delay:
                await asyncio.sleep(delay)
        else:
            if observer is not None:
                observer.attempt_ended(scope, _event_types(out), None)
            return out


def _event_types(out: Any) -> list[str]:
    """The types of the events a step returned (one event, a list of them, or None)."""
    if isinstance(out, Event):
        return [out.event_type]
    if isinstance(out, (list, tuple)):
        return [e.event_type for e in out if isinstance(e, Event)]
    return []


class _Raised(Exception):
    """Carries an exception the step itself raised past ``wait_for``'s own timeout."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def _boxed(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise _Raised(exc) from None


async def _once(spec: StepSpec, ctx: Any, event: Event) -> Any:
    if spec.timeout is None:
        if spec.is_async:
            return await spec.fn(ctx, event)
        return await asyncio.to_thread(spec.fn, ctx, event)
    call = spec.fn(ctx, event) if spec.is_async else asyncio.to_thread(spec.fn, ctx, event)
    try:
        return await asyncio.wait_for(_boxed(call), spec.timeout)
    except _Raised as raised:
        raise raised.error from None
    except asyncio.TimeoutError:
        raise StepTimedOut(
            f"step {spec.name!r} timed out: it did not finish within {spec.timeout} s"
        ) from None
