"""What happens when a step raises: the run's error, a failure event, a retry notice."""

from __future__ import annotations

import asyncio
import logging

from blazen._call import StepCall
from blazen.errors import StepError, StepTimeoutError, StoreError, WorkflowError
from blazen.events import Event, StepFailedEvent, StepRetryEvent
from blazen.step import StepSpec

__all__ = [
    "FAILED_TYPE",
    "cancel_requested",
    "commit_error",
    "error_type",
    "failed_event",
    "retry_notice",
    "step_error",
]

FAILED_TYPE = StepFailedEvent.event_type
log = logging.getLogger("blazen")
log.addHandler(logging.NullHandler())  # a library logs; the application decides what shows


def error_type(exc: BaseException) -> str:
    """The error's type name as users know it (a step timeout is a ``StepTimeoutError``)."""
    return "StepTimeoutError" if getattr(exc, "step_timeout", False) else type(exc).__name__


def failed_event(spec: StepSpec, event: Event, call: StepCall, exc: Exception) -> Event:
    """What a failure-handling step receives instead of the run failing."""
    return StepFailedEvent.model_construct(
        step=spec.name,
        input_event=event,
        error_type=error_type(exc),
        error_message=str(exc),
        attempts=call.attempt,
    )


def step_error(spec: StepSpec, run_id: str, exc: BaseException, message: str) -> StepError:
    """The run's error for a step that raised ``exc`` (after its retries)."""
    cls = StepTimeoutError if getattr(exc, "step_timeout", False) else StepError
    err = cls(spec.name, run_id, message)
    err.__cause__ = exc
    return err


def commit_error(spec: StepSpec, exc: Exception) -> WorkflowError:
    err = StoreError(f"the commit of step {spec.name!r} failed: {type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


def cancel_requested() -> bool:
    """Whether this task was asked to cancel (3.11+); on 3.10 there is no way to tell."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or bool(cancelling())


def retry_notice(
    run_id: str, spec: StepSpec, call: StepCall, exc: Exception, delay: float
) -> StepRetryEvent:
    """Log a failed attempt that will be retried; the ``StepRetryEvent`` to stream for it."""
    log.warning(
        "run %s: step %r attempt %d of %d failed (%s: %s); retrying in %.3f s",
        run_id,
        spec.name,
        call.attempt,
        spec.retries + 1,
        error_type(exc),
        exc,
        delay,
    )
    return StepRetryEvent(
        step=spec.name,
        attempt=call.attempt,
        error_type=error_type(exc),
        error_message=str(exc),
        delay=delay,
    )
