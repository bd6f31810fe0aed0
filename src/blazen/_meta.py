"""Reserved names blazen writes beside user data in snapshots and stores."""

from __future__ import annotations

__all__ = [
    "ENGINE",
    "ENGINE_KEY",
    "SESSION_PREFIX",
    "STEP_CANCELLED",
    "STEP_END",
    "STEP_INPUT",
    "STEP_PAUSED",
    "STEP_RESUME",
    "TARGETS_KEY",
    "TRACE_KEY",
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
TRACE_KEY = "blazen.trace"
"""Snapshot metadata: the run's trace context (a resumed run continues its trace)."""
SESSION_PREFIX = "__blazen_session__."
"""Snapshot context entries holding session values pickled at pause."""

# Commits that no user step made carry these reserved step names (a user step cannot be
# named like them: ``@step`` names are Python identifiers or explicit names without "<").
STEP_END = "<end>"
"""The run ended without a step commit carrying its outcome (a failure or a timeout)."""
STEP_INPUT = "<input>"
"""An answer to an input request was delivered."""
STEP_RESUME = "<resume>"
"""A process took the run over and continued it."""
STEP_PAUSED = "<paused>"
"""The run was paused."""
STEP_CANCELLED = "<cancelled>"
"""The run was aborted."""
