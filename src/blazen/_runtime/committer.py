"""Writing a run's commits in order, and publishing what they make visible once they land."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from blazen._owners import new_owner
from blazen._runtime.stream import EventStream
from blazen.errors import LeaseLostError, StoreError
from blazen.events import Event
from blazen.stores.base import CheckpointStore, Commit, PendingEvent, RunStatus
from blazen.values import StateValue

if TYPE_CHECKING:
    from blazen.stores._base import StoreBase
    from blazen.stores._batch import EncodedBatch

__all__ = ["BACKLOG", "MAX_BATCH", "Committer", "StepParts", "new_owner"]

BACKLOG = 4096
"""Queued commits past which a finishing step waits for the store (backpressure)."""

MAX_BATCH = 512
"""Commits per write at most; a longer backlog goes in several writes, in order. What a
write holds (the commits and their encoded rows) is then freed young: batches of thousands
lived long enough for the collector to move them to its oldest generation, and the full
collections that followed cost a durable SQLite hop 10-20% (bench/README.md)."""


class _Write:
    """Up to ``MAX_BATCH`` queued commits that go to the store in one write, with the events
    each one holds back. For a built-in store each commit is encoded as it is queued (no
    ``Commit`` object waits; see ``EncodedBatch``); any other store gets the ``Commit``s."""

    __slots__ = ("batch", "commits", "held")

    def __init__(self, batch: EncodedBatch | None) -> None:
        self.batch = batch
        self.commits: list[Commit] = []
        self.held: list[Sequence[Event] | None] = []  # per commit: events to publish

    def __len__(self) -> int:
        return len(self.held)

    def add(self, commit: Commit | StepParts, publish: Sequence[Event] | None) -> None:
        """Queue one commit (``StoreError``, nothing queued, if the batch cannot hold it)."""
        batch = self.batch
        if type(commit) is StepParts:
            if batch is None or batch.keep_sources:
                commit = commit.commit()
            else:  # the engine's path: encoded from its parts, no Commit built
                # add_parts(source, step ... result, error, attempt, attempt_error)
                batch.add_parts(None, *commit[:7], None, commit.attempt, None)
                self.held.append(publish or None)
                return
        assert isinstance(commit, Commit)
        if batch is not None:
            batch.add(commit)
        else:
            self.commits.append(commit)
        self.held.append(publish or None)


class StepParts(NamedTuple):
    """A step's commit as its parts: encoded straight into a built-in store's batch, or
    made a ``Commit`` for any other store. ``events``: ``(event_id, event_type,
    source_step, target_step, data)``."""

    step: str
    consumed: tuple[str, ...]
    events: Sequence[tuple[str, str, str | None, str | None, Any]]
    writes: Mapping[str, StateValue | None]
    collected: Mapping[str, list[Any]] | None
    status: RunStatus | None
    result: StateValue | None
    attempt: int

    def commit(self) -> Commit:
        """The same commit as a ``Commit`` (with a ``PendingEvent`` per event)."""
        emitted = tuple([PendingEvent(i, t, d, src, to) for i, t, src, to, d in self.events])
        return Commit(
            self.step,
            self.consumed,
            emitted,
            self.writes,
            self.collected,
            self.status,
            self.result,
            attempt=self.attempt,
        )


class Committer:
    """Writes a run's commits in order, batching whatever queued up during the last write.

    Events held back with a commit (stream events, input requests) are published right
    after the transaction holding that commit succeeds, in commit order. Every write carries
    the claim's ``owner`` and fencing ``epoch``; once ``stop()`` is called (the lease was
    lost) nothing more is written.
    """

    def __init__(
        self,
        store: CheckpointStore,
        run_id: str,
        owner: str,
        stream: EventStream,
        fail: Callable[[BaseException], None],
    ) -> None:
        from blazen.stores._base import StoreBase  # loaded with any built-in store

        self.store, self.run_id, self.owner = store, run_id, owner
        # A built-in store gets its commits encoded as they are queued, unless a subclass
        # overrides ``commit`` (to watch or alter the writes): that one is called as before.
        self.encoder: StoreBase | None = None
        if isinstance(store, StoreBase) and type(store).commit is StoreBase.commit:
            self.encoder = store
        self.epoch: int | None = None
        self.stopped = False
        self.refused = 0  # batches the store refused because the lease was lost
        self.stream = stream
        self.fail = fail
        self.writes: deque[_Write] = deque()  # queued, oldest first; the last one fills up
        self.queued = 0  # commits in ``writes``
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.space: asyncio.Future[None] | None = None

    def submit(
        self, commit: Commit | StepParts, publish: Sequence[Event] | None = None
    ) -> asyncio.Future[None] | None:
        """Queue ``commit`` (a step's commit may come as its ``StepParts``: a built-in
        store's batch encodes them with no ``Commit`` built); an awaitable is returned when
        the backlog is full.

        A commit that a built-in store cannot hold (it is encoded here) is not queued: the
        run fails with the store's ``StoreError``, and the commits queued before it land.
        """
        if self.stopped:
            return None
        writes = self.writes
        if not writes or len(writes[-1].held) >= MAX_BATCH:  # a new write when the last is full
            encoder = self.encoder
            writes.append(_Write(None if encoder is None else encoder.new_batch()))
        write = writes[-1]
        try:
            write.add(commit, publish)
        except StoreError as exc:
            if not write:
                writes.remove(write)
            self.error = exc  # what drain() raises once the queued commits have landed
            self.fail(exc)
            return None
        self.queued += 1
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._flush())
        if self.queued >= BACKLOG:
            if self.space is None:
                self.space = asyncio.get_running_loop().create_future()
            return asyncio.shield(self.space)
        return None

    def _release(self) -> None:
        if self.space is not None:
            if not self.space.done():
                self.space.set_result(None)
            self.space = None

    async def _flush(self) -> None:
        try:
            while self.writes:
                write = self.writes.popleft()
                self.queued -= len(write)
                if self.queued < BACKLOG:
                    self._release()
                await self._write(write)
                if self.stopped:
                    return
                for events in write.held:
                    for event in events or ():
                        self.stream.publish(event)
        except Exception as exc:
            self._failed(exc)
        finally:
            self.task = None

    def _failed(self, exc: Exception) -> None:
        """A write failed: drop the backlog (the store refuses it or is gone), fail the run."""
        if isinstance(exc, LeaseLostError):
            self.refused += 1
        err = exc if isinstance(exc, StoreError) else StoreError(f"checkpoint failed: {exc}")
        if err is not exc:
            err.__cause__ = exc
        self.error = err  # what drain() raises: a StoreError, the driver's error its cause
        self._clear()
        self.fail(err)

    async def _write(self, write: _Write) -> None:
        owner, epoch = self.owner, self.epoch
        if write.batch is not None and self.encoder is not None:
            await self.encoder.commit_encoded(
                self.run_id, write.batch.finish(), owner=owner, epoch=epoch
            )
        else:
            await self.store.commit(self.run_id, write.commits, owner=owner, epoch=epoch)

    def _clear(self) -> None:
        self.writes.clear()
        self.queued = 0
        self._release()

    def stop(self) -> None:
        """Write nothing more: queued commits are dropped, later ones ignored."""
        self.stopped = True
        self._clear()

    @property
    def busy(self) -> bool:
        """Whether a write is queued or under way."""
        return self.task is not None

    async def drain(self) -> None:
        """Wait until every submitted commit has landed; raise the first failure."""
        while self.task is not None:
            await asyncio.shield(self.task)
        if self.error is not None:
            raise self.error
