"""The outcome of a stored run, wherever it was executed: ``wf.wait(run_id)``.

A waiter subscribes to the store's wake-ups (PostgreSQL ``LISTEN``, a Redis stream, or
polling for SQLite) and reads the run's record on each, until its status is final.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from typing import Any

from blazen.errors import RunAbortedError, StoreError, WorkflowError, WorkflowTimeoutError
from blazen.events import StopEvent
from blazen.status import FINISHED
from blazen.stores.base import CheckpointStore, RunRecord
from blazen.values import StateValue

__all__ = ["python_value", "stored_outcome", "stored_result"]

_FIRST_POLL = 0.05
_MAX_POLL = 1.0
"""Polling (SQLite) backs off to this."""
_NOTIFIED_POLL = 5.0
"""With notifications, a waiter also re-reads the run this often (a lost notification)."""


def python_value(value: StateValue | None) -> Any:
    """The Python value of a stored result (``Native`` values are unpickled)."""
    if value is None:
        return None
    if isinstance(value, StateValue.Json):
        return value.value
    if isinstance(value, StateValue.Bytes):
        return value.as_bytes()
    try:
        return pickle.loads(value.as_native())  # the run's own result, from its workflow
    except Exception as exc:
        raise StoreError(
            f"the stored result cannot be unpickled here: {type(exc).__name__}: {exc}"
        ) from exc


async def stored_outcome(
    store: CheckpointStore, run_id: str, timeout: float | None = None
) -> StopEvent:
    """Wait until the stored run ``run_id`` ends: its ``StopEvent``, or its error raised.

    A failed run raises ``WorkflowError`` with the stored error, a cancelled one
    ``RunAbortedError``; ``WorkflowTimeoutError`` when ``timeout`` seconds pass first.
    """
    value = python_value(await stored_result(store, run_id, timeout))
    # Built from stored data: bytes and unpickled objects are kept as they are, as in the run.
    return StopEvent.model_validate({"result": value})


async def stored_result(
    store: CheckpointStore, run_id: str, timeout: float | None = None
) -> StateValue | None:
    """As ``stored_outcome``, but the result as stored (nothing unpickled: for tools)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    subscription = store.subscribe()
    polling = getattr(subscription, "polling", False)
    delay = _FIRST_POLL if polling else _NOTIFIED_POLL
    try:
        await subscription.wait(0)  # listening before the first read: no ending is missed
        while True:
            record = await store.get_run(run_id)
            if record.status in FINISHED:
                return await _ending(store, record)
            wait = delay
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkflowTimeoutError(
                        f"run {run_id} did not finish within {timeout} s (it is {record.status})"
                    )
                wait = min(wait, left)
            await subscription.wait(wait)
            if polling:
                delay = min(delay * 2, _MAX_POLL)
    finally:
        await asyncio.shield(subscription.close())


async def _ending(store: CheckpointStore, record: RunRecord) -> StateValue | None:
    """The stored result of a completed run, or the error of a failed or cancelled one."""
    if record.status == "completed":
        return (await store.load(record.run_id)).result
    if record.status == "cancelled":
        raise RunAbortedError(f"run {record.run_id} was cancelled")
    raise WorkflowError(f"run {record.run_id} failed: {record.error or 'no error recorded'}")
