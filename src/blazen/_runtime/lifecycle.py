"""Lifecycle events put on the stream when a workflow has ``auto_publish_events=True``.

They use the Rust-core package's type names and fields, so a program that watches them
there sees the same here: ``blazen::lifecycle`` (``kind`` = ``event_routed``,
``step_started`` or ``step_completed``) and ``blazen::ProgressEvent``.
"""

from __future__ import annotations

import time
from typing import Any

from blazen.events import Event

__all__ = ["LIFECYCLE", "PROGRESS", "lifecycle_event", "progress_event", "step_completed"]

LIFECYCLE = "blazen::lifecycle"
PROGRESS = "blazen::ProgressEvent"


def lifecycle_event(kind: str, **fields: Any) -> Event:
    """A ``blazen::lifecycle`` event of ``kind`` with its fields."""
    return Event(LIFECYCLE, kind=kind, **fields)


def progress_event(current: int, label: str, run_id: str) -> Event:
    """A ``blazen::ProgressEvent``: ``current`` steps done, the last one ``label``."""
    return Event(PROGRESS, current=current, kind="Workflow", label=label, run_id=run_id)


def step_completed(step_name: str, began: float, current: int, run_id: str) -> list[Event]:
    """The events of a completed step: its ``step_completed`` and the run's progress."""
    ms = int((time.monotonic() - began) * 1000)
    return [
        lifecycle_event("step_completed", duration_ms=ms, step_name=step_name),
        progress_event(current, step_name, run_id),
    ]
