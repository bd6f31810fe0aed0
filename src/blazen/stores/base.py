"""The ``CheckpointStore`` Protocol every backend implements, its records, and ``open_store``.

A store keeps, per run, an append-only history of *commits*. Commit 0 is written by
``create_run`` (the whole starting state); every later commit is the delta of one step:
the context keys it wrote, the events it emitted and the events it consumed. The state at
any ``seq`` is rebuilt from the commits up to it, so a run can be resumed from its last
commit or forked from any earlier one. Backends never import the runtime or the context.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from blazen.errors import StoreError
from blazen.status import FINISHED, RUN_STATUSES, RunStatus
from blazen.values import StateValue

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_STORE_ENV",
    "DEFAULT_STORE_FILE",
    "FINISHED",
    "RUN_STATUSES",
    "CheckpointInfo",
    "CheckpointStore",
    "Commit",
    "Lease",
    "LoadedRun",
    "NextRun",
    "PendingEvent",
    "Renewal",
    "RunRecord",
    "RunStatus",
    "Subscription",
    "open_store",
    "run_status",
]

_STATUS_BY_NAME: dict[str, RunStatus] = {status: status for status in RUN_STATUSES}


def run_status(text: str) -> RunStatus:
    """``text`` as a ``RunStatus``; ``StoreError`` naming it when it is not one."""
    status = _STATUS_BY_NAME.get(text)
    if status is None:
        raise StoreError(f"unknown run status {text!r} (one of: {', '.join(RUN_STATUSES)})")
    return status


DEFAULT_STORE_ENV = "BLAZEN_STORE"
DEFAULT_STORE_FILE = "blazen.db"
DEFAULT_LEASE = 30.0
"""Seconds a claim on a run lasts unless renewed (its owner renews it in the background)."""


@dataclass(slots=True)
class PendingEvent:
    """An event waiting to be handled. ``data`` is the snapshot event encoding (msgpack-able).

    ``target_step`` names the one step it is queued for (an event accepted by several
    steps is one delivery per step); ``None`` means "route it by its type when loaded".
    A record to read, not to modify (see ``Commit`` on why it is not frozen).
    """

    event_id: str
    event_type: str
    data: Any
    source_step: str | None = None
    target_step: str | None = None


@dataclass(slots=True)
class Commit:
    """One step's atomic effect on a run.

    ``writes`` maps context keys to their new value (``None`` deletes the key).
    ``collected`` replaces the whole ``collect_events`` buffer map when not ``None``.
    ``status``/``result``/``error`` update the run record when not ``None``.
    ``attempt`` is the attempt of the step that made this commit (above 1 after retries);
    ``attempt_error`` marks a commit that only records a failed attempt (``"Type: msg"``):
    it consumes, emits and writes nothing and leaves the run record's error alone.

    A record to read, not to modify. It is not frozen because the engine builds one (and a
    ``PendingEvent`` per emitted event) for every step of a durable run on the memory store
    or on a store outside blazen, and a frozen dataclass costs about 2.5x as much to build
    (each field is set through ``object.__setattr__``).
    """

    step: str
    consumed: tuple[str, ...] = ()
    emitted: tuple[PendingEvent, ...] = ()
    writes: Mapping[str, StateValue | None] = field(default_factory=dict)
    collected: Mapping[str, list[Any]] | None = None
    status: RunStatus | None = None
    result: StateValue | None = None
    error: str | None = None
    attempt: int = 1
    attempt_error: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a store knows about a run without loading its state."""

    run_id: str
    workflow_name: str
    status: RunStatus
    created_at: float
    updated_at: float
    last_seq: int
    owner: str | None = None
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    epoch: int = 0
    """The fencing epoch: incremented by every claim; a commit of an older epoch is refused."""
    lease_until: float | None = None
    """When the owner's lease ends (seconds since the epoch, the store's clock); ``None``:
    the run has no owner."""
    cancel_requested: bool = False
    """``cancel(run_id)`` asked the owner to stop the run."""

    def summary(self) -> dict[str, Any]:
        """The fields a listing shows, as JSON data (``blazen runs list --json``, the viewer)."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow_name,
            "status": self.status,
            "last_seq": self.last_seq,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """One entry of a run's commit history.

    ``attempt`` is the step's attempt that made the commit; ``error`` is the error of a
    failed attempt (``Commit.attempt_error``) or, on a run's failing ``<end>`` commit, the
    run's error.
    """

    seq: int
    step: str
    created_at: float
    writes: tuple[str, ...]
    emitted: tuple[str, ...]
    consumed: int
    attempt: int = 1
    error: str | None = None
    epoch: int = 0
    """The fencing epoch of the claim that made the commit (see ``RunRecord.epoch``)."""


@dataclass(frozen=True, slots=True)
class LoadedRun:
    """A run's state as of commit ``seq``."""

    record: RunRecord
    seq: int
    context_state: dict[str, StateValue]
    pending: list[PendingEvent]
    collected: dict[str, list[Any]]
    result: StateValue | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """``owner``'s claim on a run: commits carry ``epoch``; ``record`` is the run as claimed."""

    run_id: str
    owner: str
    epoch: int
    record: RunRecord


@dataclass(frozen=True, slots=True)
class NextRun:
    """What ``acquire_next`` found: a claimed run, or when to look again.

    ``retry_in`` is the number of seconds until the earliest lease of a matching unfinished
    run ends (``None``: no such lease); a worker with nothing to do sleeps that long at most.
    """

    lease: Lease | None
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class Renewal:
    """The answer to ``renew``: runs whose lease was lost, runs asked to cancel, and runs
    with answers posted (by ``respond``) that their owner has not consumed yet."""

    lost: frozenset[str] = frozenset()
    cancel: frozenset[str] = frozenset()
    inbox: frozenset[str] = frozenset()


class Subscription(Protocol):
    """Wake-ups of a store: new queued work, answers, cancel requests and finished runs."""

    async def wait(self, timeout: float) -> bool:
        """Return after a notification (``True``) or ``timeout`` seconds (``False``)."""
        ...

    async def close(self) -> None:
        """Stop listening."""
        ...


@runtime_checkable
class CheckpointStore(Protocol):
    """Durable storage of runs; every method is safe to call from the event loop."""

    async def create_run(
        self,
        run_id: str,
        workflow_name: str,
        *,
        owner: str | None,
        context_state: Mapping[str, StateValue],
        pending: Sequence[PendingEvent],
        collected: Mapping[str, list[Any]],
        metadata: Mapping[str, Any],
        status: RunStatus = "running",
        lease: float = DEFAULT_LEASE,
    ) -> None:
        """Write commit 0 of a new run; ``StoreConflictError`` if the id exists.

        With an ``owner`` the run is claimed at once (epoch 1, a lease of ``lease`` seconds);
        a ``queued`` run (or ``owner=None``) has no owner until a worker claims it.
        """
        ...

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        """Apply ``commits`` in order, in one transaction; return the last seq.

        Raises ``LeaseLostError`` when ``owner`` no longer owns the run, or (``epoch`` given)
        when the run was claimed again since that epoch. A commit setting a final status
        also ends the lease.
        """
        ...

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner whatever its lease (a new epoch; the old owner's
        commits fail). ``acquire`` is the safe claim."""
        ...

    async def acquire(
        self, run_id: str, owner: str, *, lease: float = DEFAULT_LEASE, failed: bool = False
    ) -> Lease:
        """Claim an unfinished run whose lease is free or expired, atomically: a new epoch.

        ``failed=True`` also claims a failed run (to retry it). Raises ``StoreConflictError``
        when the run is finished or another live owner holds it. A lease held by a process of
        this host that no longer exists counts as expired.
        """
        ...

    async def acquire_next(
        self, owner: str, workflows: Sequence[str], *, lease: float = DEFAULT_LEASE
    ) -> NextRun:
        """Claim one run of ``workflows`` that needs a worker: queued, or unfinished with an
        expired lease (oldest first), atomically; several workers never get the same run."""
        ...

    async def renew(
        self, held: Mapping[str, tuple[str, int]], *, lease: float = DEFAULT_LEASE
    ) -> Renewal:
        """Extend the given leases (run id -> (owner, epoch)) by ``lease`` seconds from now;
        report the lost ones, the cancel requests and the runs with posted answers."""
        ...

    async def release(self, run_id: str, owner: str, epoch: int, *, requeue: bool = False) -> bool:
        """End ``owner``'s lease (``requeue``: the run becomes ``queued`` for any worker).

        ``False`` when the lease was lost already. Answers posted meanwhile make a waiting
        run ``queued`` too, so no answer is left unseen.
        """
        ...

    async def inbox(self, run_id: str) -> list[PendingEvent]:
        """Events posted to the run by ``respond`` and not consumed yet, oldest first."""
        ...

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        """Record the answer to an input request; the run becomes claimable by any worker
        (or its owner delivers it)."""
        ...

    async def cancel(self, run_id: str) -> None:
        """Cancel the run: at once if no process owns it, else its owner stops it."""
        ...

    async def requeue(self, run_id: str) -> None:
        """Queue a paused, failed (or answered) run so that a worker continues it."""
        ...

    def subscribe(self) -> Subscription:
        """Wake-ups on new work and finished runs (a notification channel where the backend
        has one, else polling)."""
        ...

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        ...

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        ...

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, most recently updated first."""
        ...

    async def find_runs(self, id_prefix: str, *, limit: int = 10) -> list[RunRecord]:
        """Up to ``limit`` runs whose id starts with ``id_prefix``, in id order.

        Backends look the prefix up in their run-id index (a range or ``LIKE 'p%'`` scan),
        so naming a run by the first characters of its id costs no full listing.
        """
        ...

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        ...

    async def events(self, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        ...

    async def delete_run(self, run_id: str) -> None:
        """Delete the run and everything only it references."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


_SCHEMES: dict[str, tuple[str, str]] = {
    "memory": ("blazen.stores.memory", "MemoryStore"),
    "sqlite": ("blazen.stores.sqlite", "SQLiteStore"),
    "postgres": ("blazen.stores.postgres", "PostgresStore"),
    "postgresql": ("blazen.stores.postgres", "PostgresStore"),
    "redis": ("blazen.stores.redis", "RedisStore"),
}

# The pyblazen extra that installs a scheme's driver (see ``[project.optional-dependencies]``).
_EXTRAS: dict[str, str] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "redis": "redis",
}


def open_store(url: str | os.PathLike[str] | None = None) -> CheckpointStore:
    """Open a store by URL, importing its backend only now.

    ``memory://``, ``sqlite:///path.db`` (or a bare file path), ``postgresql://...``,
    ``redis://...``. ``None`` means ``$BLAZEN_STORE`` or ``./blazen.db``; an empty URL is
    an error.
    """
    if url is None:
        url = os.environ.get(DEFAULT_STORE_ENV) or DEFAULT_STORE_FILE
    text = os.fspath(url)
    if not isinstance(text, str):
        raise StoreError(f"a store URL must be a str or a path, not {type(text).__name__}")
    if not text.strip():
        raise StoreError(
            "empty store URL: pass a URL such as 'sqlite:///runs.db' or 'memory://', "
            "or None for the default"
        )
    scheme, sep, _ = text.partition("://")
    if not sep:
        scheme = "sqlite"
    scheme = scheme.lower()
    target = _SCHEMES.get(scheme)
    if target is None:
        raise StoreError(f"unknown store scheme {scheme!r} in {text!r}")
    module_name, class_name = target
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == module_name:
            raise StoreError(
                f"the {scheme} store is not available in this version of blazen "
                f"(its backend is designed in docs/stores.md but not implemented yet)"
            ) from exc
        extra = _EXTRAS.get(scheme)
        hint = f": pip install 'pyblazen[{extra}]'" if extra else ""
        raise StoreError(f"the {scheme} store needs an optional dependency{hint} ({exc})") from exc
    store: CheckpointStore = getattr(module, class_name).from_url(text)
    return store
