"""The one vocabulary of run statuses, shared by handlers, stores and the CLI."""

from __future__ import annotations

from typing import Literal

__all__ = ["ACTIVE", "FINISHED", "RunStatus"]

RunStatus = Literal["queued", "running", "waiting", "paused", "completed", "failed", "cancelled"]
"""``queued``: stored, not started; ``running``: steps are being executed; ``waiting``: for an
answer to an input request; ``paused``: stopped by ``pause()``, resumable; the last three are
final."""

FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""Statuses a run never leaves."""

ACTIVE: frozenset[str] = frozenset({"queued", "running", "waiting", "paused"})
"""Statuses of runs that can still make progress."""
