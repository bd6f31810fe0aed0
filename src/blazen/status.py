"""The one vocabulary of run statuses, shared by handlers, stores and the CLI."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ACTIVE", "FINISHED", "REQUEUEABLE", "RUN_STATUSES", "RunStatus"]

RunStatus = Literal["queued", "running", "waiting", "paused", "completed", "failed", "cancelled"]
"""``queued``: stored, not started; ``running``: steps are being executed; ``waiting``: for an
answer to an input request; ``paused``: stopped by ``pause()``, resumable; the last three are
final."""

RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)

FINISHED: frozenset[RunStatus] = frozenset({"completed", "failed", "cancelled"})
"""Statuses a run does not leave by itself (a failed run may be resumed on purpose)."""

ACTIVE: frozenset[RunStatus] = frozenset({"queued", "running", "waiting", "paused"})
"""Statuses of runs that can still make progress."""

REQUEUEABLE: frozenset[RunStatus] = frozenset({"queued", "running", "paused", "failed"})
"""Statuses ``requeue`` turns into ``queued`` (a ``running`` one only when nobody owns it)."""
