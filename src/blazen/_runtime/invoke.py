"""Calling one step: async or in a worker thread, with its timeout and retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from blazen.errors import WorkflowTimeoutError
from blazen.events import Event
from blazen.step import StepSpec

__all__ = ["StepTimedOut", "invoke"]


class StepTimedOut(WorkflowTimeoutError):
    """Raised when a step passes its ``timeout=``; the run reports a ``StepTimeoutError``."""

    step_timeout = True


async def invoke(spec: StepSpec, ctx: Any, event: Event) -> Any:
    """Run ``spec`` on ``event``; retry failures ``spec.retries`` times, then re-raise."""
    attempt = 0
    while True:
        try:
            return await _once(spec, ctx, event)
        except asyncio.CancelledError:
            raise
        except Exception:
            if attempt >= spec.retries:
                raise
            attempt += 1
            if spec.retry_delay:
                await asyncio.sleep(spec.retry_delay)


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
