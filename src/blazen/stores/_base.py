"""``StoreBase``: the ``CheckpointStore`` Protocol over one backend's I/O.

Every public method is here, once: it encodes and validates its input (``_batch``), checks
that the store is open, calls the backend's I/O hook (the ``_``-prefixed abstract methods,
which only read and write), and words every error with the shared constructors
(``_errors``). When a backend's atomic write is refused it says why (``Refused``); this
class then reads what it needs to name the problem, identically for every backend.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from blazen.errors import StoreError
from blazen.stores._batch import EncodedBatch, encode_batch, encode_start, event_problem
from blazen.stores._codec import pack
from blazen.stores._coord import Coordinated, check_lease
from blazen.stores._errors import (
    Refusal,
    Refused,
    closed,
    not_owner,
    run_exists,
    stale_epoch,
    unknown_run,
)
from blazen.stores.base import (
    DEFAULT_LEASE,
    CheckpointInfo,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
    run_status,
)
from blazen.values import StateValue

__all__ = ["EventRow", "RunHead", "StoreBase"]

_T = TypeVar("_T")

EventRow = tuple[int, PendingEvent, int | None]
"""``(emitted seq, event, consumed seq or None)``, as ``CheckpointStore.events`` lists them."""


@dataclass(frozen=True, slots=True)
class RunHead:
    """The run record ``create_run`` writes beside commit 0 (``metadata`` msgpack-encoded).

    With an ``owner`` the run starts claimed: epoch 1, a lease of ``lease`` seconds; without
    one (a ``queued`` run) it has epoch 0 and no lease.
    """

    run_id: str
    workflow_name: str
    status: RunStatus
    owner: str | None
    metadata: bytes
    lease: float = DEFAULT_LEASE

    @property
    def epoch(self) -> int:
        """The run's first fencing epoch."""
        return 0 if self.owner is None else 1


class StoreBase(Coordinated, abc.ABC):
    """The shared half of every backend: validation, encoding, refusals and error texts."""

    _closed: bool = False
    _keeps_sources: ClassVar[bool] = False
    """Whether this backend reads the live values of a batch's commits (``source``)."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data is, for people: a file path, or a URL without its password."""

    def _check_open(self) -> None:
        """``StoreError`` once ``close()`` was called."""
        if self._closed:
            raise closed(self)

    # -- the backend's I/O -----------------------------------------------------------------

    @abc.abstractmethod
    async def _insert_run(self, head: RunHead, batch: EncodedBatch) -> None:
        """Write the run and its commit 0 atomically, or raise ``Refused(RUN_EXISTS)``."""

    @abc.abstractmethod
    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        """Append the batch atomically and return the last seq, or raise ``Refused``
        (``UNKNOWN_RUN``, ``NOT_OWNER`` also for a stale ``epoch``, or ``EVENTS`` when an
        event rule is broken). Each commit row records the run's epoch; a batch setting a
        final status ends the lease (no owner any more)."""

    @abc.abstractmethod
    async def _event_states(self, run_id: str, event_ids: Sequence[str]) -> dict[str, bool]:
        """Of the given ids, the run's events: ``True`` pending, ``False`` consumed."""

    @abc.abstractmethod
    async def _claim(self, run_id: str, owner: str, lease: float) -> RunRecord | None:
        """Set the run's owner whatever its lease (epoch + 1, a new lease); its record, or
        ``None`` when the run is unknown."""

    @abc.abstractmethod
    async def _load(self, run_id: str, seq: int | None) -> LoadedRun | None:
        """The run's state after commit ``seq`` (``load_seq``), or ``None`` when unknown."""

    @abc.abstractmethod
    async def _get(self, run_id: str) -> RunRecord | None:
        """The run's record, or ``None`` when unknown."""

    @abc.abstractmethod
    async def _list(
        self, workflow_name: str | None, status: RunStatus | None, limit: int
    ) -> list[RunRecord]:
        """Up to ``limit`` (> 0) matching runs, most recently updated first."""

    @abc.abstractmethod
    async def _find(self, id_prefix: str, limit: int) -> list[RunRecord]:
        """Up to ``limit`` (> 0) runs whose id starts with ``id_prefix``, in id order."""

    @abc.abstractmethod
    async def _checkpoints(self, run_id: str) -> list[CheckpointInfo] | None:
        """The run's commit history, or ``None`` when unknown."""

    @abc.abstractmethod
    async def _events(self, run_id: str) -> list[EventRow] | None:
        """Every event of the run, or ``None`` when unknown."""

    @abc.abstractmethod
    async def _delete(self, run_id: str) -> bool:
        """Delete the run and the blobs only it referenced; ``False`` when unknown."""

    @abc.abstractmethod
    async def _close(self) -> None:
        """Release connections and threads."""

    # -- writes ----------------------------------------------------------------------------

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
        batch = encode_start(pending, context_state, collected)
        state = run_status(status)
        holder = None if state == "queued" else owner
        head = RunHead(
            run_id, workflow_name, state, holder, pack(dict(metadata)), check_lease(lease)
        )
        self._check_open()
        if batch.intra_problem:
            if await self._get(run_id) is not None:
                raise run_exists(run_id)
            raise await self._event_error(run_id, 0, batch)
        try:
            await self._insert_run(head, batch)
        except Refused as exc:
            raise await self._explain(exc.refusal, run_id, owner or "", None, batch) from None

    async def commit(
        self, run_id: str, commits: Sequence[Commit], *, owner: str, epoch: int | None = None
    ) -> int:
        """Apply ``commits`` in order, in one transaction; return the last seq.

        Raises ``LeaseLostError`` when ``owner`` no longer owns the run, or (``epoch`` given)
        when the run was claimed again since that epoch. A commit setting a final status
        also ends the lease.
        """
        batch = encode_batch(commits, keep_sources=self._keeps_sources)
        return await self.commit_encoded(run_id, batch, owner=owner, epoch=epoch)

    def new_batch(self) -> EncodedBatch:
        """An empty batch for ``commit_encoded``: the engine encodes each commit into it as
        its step finishes (``EncodedBatch.add``), and ``finish``-es it before the write."""
        return EncodedBatch(keep_sources=self._keeps_sources)

    async def commit_encoded(
        self, run_id: str, batch: EncodedBatch, *, owner: str, epoch: int | None = None
    ) -> int:
        """``commit`` of an already encoded and finished batch (from ``new_batch``)."""
        self._check_open()
        if not batch.commits or batch.intra_problem:
            record = await self._owned(run_id, owner, epoch)
            if not batch.commits:
                return record.last_seq
            raise await self._event_error(run_id, record.last_seq + 1, batch)
        try:
            return await self._append(run_id, owner, epoch, batch)
        except Refused as exc:
            raise await self._explain(exc.refusal, run_id, owner, epoch, batch) from None

    async def _owned(self, run_id: str, owner: str, epoch: int | None) -> RunRecord:
        """The run's record if ``owner`` owns it; the unknown-run or owner error if not."""
        record = _known(run_id, await self._get(run_id))
        if record.owner != owner:
            raise not_owner(run_id, record.owner, owner, record.status)
        if epoch is not None and record.epoch != epoch:
            raise stale_epoch(run_id, epoch, record.epoch)
        return record

    async def _explain(
        self,
        refusal: Refusal,
        run_id: str,
        owner: str,
        epoch: int | None,
        batch: EncodedBatch,
    ) -> StoreError:
        """The error naming why a write was refused (reading the run where that needs it)."""
        if refusal is Refusal.UNKNOWN_RUN:
            return unknown_run(run_id)
        if refusal is Refusal.RUN_EXISTS:
            return run_exists(run_id)
        record = await self._get(run_id)
        if refusal is Refusal.NOT_OWNER:
            if record is None:
                return unknown_run(run_id)
            if record.owner == owner and epoch is not None and record.epoch != epoch:
                return stale_epoch(run_id, epoch, record.epoch)
            return not_owner(run_id, record.owner, owner, record.status)
        first = 0 if record is None else record.last_seq + 1
        return await self._event_error(run_id, first, batch)

    async def _event_error(self, run_id: str, first_seq: int, batch: EncodedBatch) -> StoreError:
        """The first misuse of event ids in a batch written after commit ``first_seq - 1``."""
        states = await self._event_states(run_id, batch.event_ids())
        problem = event_problem(batch, run_id, first_seq, states.get)
        if problem is not None:
            return problem
        return StoreError(
            f"run {run_id!r}: the store refused the batch's events, but they are valid now"
            " (another writer changed the run meanwhile); nothing was written"
        )

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner whatever its lease (a new epoch; the old owner's
        commits fail). ``acquire`` is the safe claim."""
        self._check_open()
        return _known(run_id, await self._claim(run_id, owner, DEFAULT_LEASE))

    async def delete_run(self, run_id: str) -> None:
        """Delete the run and everything only it references."""
        self._check_open()
        if not await self._delete(run_id):
            raise unknown_run(run_id)

    # -- reads -----------------------------------------------------------------------------

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        self._check_open()
        return _known(run_id, await self._load(run_id, seq))

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        self._check_open()
        return _known(run_id, await self._get(run_id))

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, most recently updated first."""
        self._check_open()
        wanted = None if status is None else run_status(status)
        if limit <= 0:
            return []
        return await self._list(workflow_name, wanted, limit)

    async def find_runs(self, id_prefix: str, *, limit: int = 10) -> list[RunRecord]:
        """Up to ``limit`` runs whose id starts with ``id_prefix``, in id order."""
        self._check_open()
        if not isinstance(id_prefix, str):
            raise StoreError(f"a run id prefix must be a str, not {type(id_prefix).__name__}")
        if limit <= 0:
            return []
        return await self._find(id_prefix, limit)

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        self._check_open()
        return _known(run_id, await self._checkpoints(run_id))

    async def events(self, run_id: str) -> list[EventRow]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        self._check_open()
        return _known(run_id, await self._events(run_id))

    async def close(self) -> None:
        """Release connections and threads; later calls raise ``StoreError``."""
        if self._closed:
            return
        self._closed = True
        await self._close()


def _known(run_id: str, found: _T | None) -> _T:
    """``found``, or the unknown-run error when the backend found nothing."""
    if found is None:
        raise unknown_run(run_id)
    return found
