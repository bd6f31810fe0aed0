"""The errors every store raises, worded once, and the refusals a backend's I/O reports.

A backend never words an error about a run itself: its atomic write reports *what* was
refused (``Refusal``) and the shared layer (``_base.StoreBase``) reads what it needs to name
the problem with the constructors below, so every backend says exactly the same thing.
"""

from __future__ import annotations

import enum
import time

from blazen.errors import LeaseLostError, StoreConflictError, StoreError

__all__ = [
    "Refusal",
    "Refused",
    "bad_lease",
    "closed",
    "duplicate_event",
    "held",
    "no_commit",
    "not_claimable",
    "not_owner",
    "not_pending",
    "not_waiting",
    "run_exists",
    "stale_epoch",
    "unknown_run",
]


class Refusal(enum.Enum):
    """Why a backend's atomic write applied nothing."""

    UNKNOWN_RUN = "unknown run"
    RUN_EXISTS = "run exists"
    NOT_OWNER = "not owner"
    EVENTS = "events"
    """A consumed event is not pending, or an emitted event id is not new."""
    FINISHED = "finished"
    """An event was posted to a run that has finished."""


class Refused(Exception):
    """Raised by a backend's I/O (never out of a store): the write was refused, nothing applied."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


def unknown_run(run_id: str) -> StoreError:
    """The store holds no run ``run_id``."""
    return StoreError(f"unknown run id {run_id!r}")


def run_exists(run_id: str) -> StoreConflictError:
    """``create_run`` of an id the store already holds."""
    return StoreConflictError(f"run {run_id!r} already exists")


def not_owner(
    run_id: str, owner: str | None, caller: str, status: str | None = None
) -> LeaseLostError:
    """A commit by ``caller`` to a run it no longer owns: what happened, and what to do.

    ``owner`` is the run's owner now (``None``: nobody), ``status`` its status. The process
    that gets this error stops running the run (its commits are refused from now on).
    """
    see = f"see `blazen runs show {run_id}`"
    if owner is None and status in ("completed", "failed", "cancelled"):
        return LeaseLostError(
            f"run {run_id!r} was ended ({status}) by another process while this one"
            f" ({caller!r}) was running it: this commit was refused (nothing written) and this"
            f" process stops running the run ({see})"
        )
    if owner is None:
        return LeaseLostError(
            f"run {run_id!r} was released while this process ({caller!r}) was running it: this"
            f" commit was refused (nothing written) and this process stops running the run;"
            f" continue it with `blazen runs resume {run_id} TARGET` ({see})"
        )
    return LeaseLostError(
        f"run {run_id!r} was taken over by another process (owner {owner!r}) while this one"
        f" ({caller!r}) was running it: this commit was refused (nothing written) and this"
        f" process stops running the run; the other owner continues it ({see})"
    )


def stale_epoch(run_id: str, epoch: int, current: int) -> LeaseLostError:
    """A commit of fencing epoch ``epoch`` after the run was claimed again (``current``)."""
    return LeaseLostError(
        f"run {run_id!r} was claimed again (epoch {current}) since this process claimed it"
        f" (epoch {epoch}): this commit was refused (nothing written) and this process stops"
        f" running the run; the newer claim continues it (see `blazen runs show {run_id}`)"
    )


def held(run_id: str, owner: str | None, lease_until: float | None) -> StoreConflictError:
    """A claim of a run whose lease another live owner holds."""
    left = "" if lease_until is None else f"; its lease ends in {lease_until - time.time():.1f} s"
    return StoreConflictError(
        f"run {run_id!r} is owned by {owner!r}, which is running it{left} unless renewed"
        " (a run is continued by one process at a time)"
    )


def not_claimable(run_id: str, status: str) -> StoreConflictError:
    """A claim of a finished run (or of a failed one without ``failed=True``)."""
    return StoreConflictError(
        f"run {run_id!r} is already {status}; there is nothing to resume (fork_run starts a new"
        " run from one of its checkpoints)"
    )


def not_waiting(run_id: str, request_id: str, waiting: list[str]) -> StoreConflictError:
    """``respond`` to a request the run does not wait for."""
    return StoreConflictError(
        f"run {run_id!r} is not waiting for input request {request_id!r}"
        f" (waiting for {sorted(waiting)})"
    )


def bad_lease(lease: object) -> StoreError:
    """A lease length that is not a positive number of seconds."""
    return StoreError(f"a lease must be a number of seconds > 0, not {lease!r}")


def not_pending(run_id: str, seq: int, event_id: str) -> StoreError:
    """Commit ``seq`` consumes an event that is unknown, consumed, or not emitted before it."""
    return StoreError(
        f"run {run_id!r}: commit {seq} consumes event {event_id!r}, which is not pending"
    )


def duplicate_event(run_id: str, seq: int, event_id: str) -> StoreError:
    """Commit ``seq`` emits an event whose id the run already has."""
    return StoreError(
        f"run {run_id!r}: commit {seq} emits event {event_id!r}, but the run already has an"
        " event with that id"
    )


def no_commit(run_id: str, seq: int | None, last: int) -> StoreError:
    """``load``/fork of a commit the run does not have."""
    return StoreError(f"run {run_id!r} has no commit {seq} (last is {last})")


def closed(store: object) -> StoreError:
    """Any call after ``close()``."""
    return StoreError(f"{store!r} is closed")
