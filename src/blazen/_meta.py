"""Reserved names blazen writes beside user data in snapshots and stores."""

from __future__ import annotations

__all__ = [
    "ENGINE",
    "ENGINE_KEY",
    "SESSION_PREFIX",
    "TARGETS_KEY",
    "WAITING_KEY",
    "WAITING_STATE_KEY",
]

ENGINE = "pyblazen"
"""Value of ``metadata["blazen.engine"]`` in snapshots this engine writes."""
ENGINE_KEY = "blazen.engine"
TARGETS_KEY = "blazen.targets"
"""Snapshot metadata: the step each pending event is queued for (parallel list)."""
WAITING_KEY = "blazen.waiting"
"""Snapshot metadata: the input requests the run waits on."""
WAITING_STATE_KEY = "__blazen__.waiting"
"""Store context entry holding the awaited input requests of a durable run."""
SESSION_PREFIX = "__blazen_session__."
"""Snapshot context entries holding session values pickled at pause."""
