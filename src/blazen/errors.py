"""Every exception blazen raises, in one hierarchy rooted at :class:`WorkflowError`.

The table in ``docs/errors.md`` lists when each one is raised.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ContextError",
    "LeaseLostError",
    "PauseError",
    "RunAbortedError",
    "RunStalledError",
    "SessionPauseError",
    "SnapshotError",
    "StartEventError",
    "StepError",
    "StepTimeoutError",
    "StoreConflictError",
    "StoreError",
    "UnroutableEventError",
    "WorkflowError",
    "WorkflowTimeoutError",
    "WorkflowValidationError",
]


class WorkflowError(Exception):
    """Root of every error raised by blazen."""


class WorkflowValidationError(WorkflowError):
    """A workflow, step or event definition is invalid (raised when the workflow is built)."""


class StartEventError(WorkflowError, ValueError):
    """A run's keyword arguments do not fit the workflow's ``StartEvent`` class."""


class ContextError(WorkflowError, TypeError):
    """A Context call got a key or value it cannot store; nothing already stored was changed."""


class UnroutableEventError(WorkflowError):
    """An event was emitted that no step of the workflow accepts."""

    def __init__(self, event_type: str, source_step: str | None) -> None:
        self.event_type = event_type
        self.source_step = source_step
        origin = f"step {source_step!r}" if source_step else "the workflow"
        super().__init__(f"no step accepts event {event_type!r} (emitted by {origin})")


class StepError(WorkflowError, RuntimeError):
    """A step raised; the original exception is ``__cause__``.

    Also a ``RuntimeError``, the type the Rust-core package raises for a failed step.
    """

    def __init__(self, step_name: str, run_id: str, message: str) -> None:
        self.step_name = step_name
        self.run_id = run_id
        super().__init__(f"step {step_name!r} failed in run {run_id}: {message}")


class WorkflowTimeoutError(WorkflowError, TimeoutError):
    """A run (or, as :class:`StepTimeoutError`, one step) took longer than allowed."""


class StepTimeoutError(StepError, WorkflowTimeoutError):
    """A step with ``timeout=`` did not finish in time (after its retries)."""


class RunAbortedError(WorkflowError):
    """The run was aborted (``handler.abort()`` or a cancel request); it has no result."""


class RunStalledError(WorkflowError):
    """No event is pending, no step is running and no ``StopEvent`` was returned."""


class PauseError(WorkflowError):
    """A pause or snapshot was refused: the run has already ended, or cannot pause now."""


class SessionPauseError(PauseError):
    """A run could not pause because of its live session values."""

    def __init__(self, message: str, keys: Iterable[str] = ()) -> None:
        self.keys = sorted(keys)
        super().__init__(message)


class SnapshotError(WorkflowError):
    """A snapshot could not be written or read; the message says why."""


class StoreError(WorkflowError):
    """A checkpoint store failed or holds something it cannot use."""


class StoreConflictError(StoreError):
    """Another process owns the run, or the stored run does not match the workflow."""


class LeaseLostError(StoreConflictError):
    """This process no longer owns the run: another worker claimed it (its lease expired)."""
