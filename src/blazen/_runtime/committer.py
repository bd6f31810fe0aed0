"""Writing a run's commits in order, and publishing what they make visible once they land."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from blazen._owners import new_owner
from blazen._runtime.stream import EventStream
from blazen.errors import LeaseLostError, StoreError
from blazen.events import Event
from blazen.stores.base import CheckpointStore, Commit

__all__ = ["BACKLOG", "MAX_BATCH", "Committer", "new_owner"]

BACKLOG = 4096
"""Queued commits past which a finishing step waits for the store (backpressure)."""

MAX_BATCH = 512
"""Commits per write at most; a longer backlog goes in several writes, in order. What a
write holds (the commits and their encoded rows) is then freed young: batches of thousands
lived long enough for the collector to move them to its oldest generation, and the full
collections that followed cost a durable SQLite hop 10-20% (bench/README.md)."""


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
        self.store, self.run_id, self.owner = store, run_id, owner
        self.epoch: int | None = None
        self.stopped = False
        self.refused = 0  # batches the store refused because the lease was lost
        self.stream = stream
        self.fail = fail
        self.buf: list[Commit] = []
        self.held: list[Sequence[Event] | None] = []  # per buffered commit: events to publish
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.space: asyncio.Future[None] | None = None

    def submit(
        self, commit: Commit, publish: Sequence[Event] | None = None
    ) -> asyncio.Future[None] | None:
        """Queue ``commit``; an awaitable is returned when the backlog is full."""
        if self.stopped:
            return None
        self.buf.append(commit)
        self.held.append(publish or None)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._flush())
        if len(self.buf) >= BACKLOG:
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
            while self.buf:
                batch, held = self.buf[:MAX_BATCH], self.held[:MAX_BATCH]
                del self.buf[:MAX_BATCH], self.held[:MAX_BATCH]
                if len(self.buf) < BACKLOG:
                    self._release()
                await self.store.commit(self.run_id, batch, owner=self.owner, epoch=self.epoch)
                if self.stopped:
                    return
                for events in held:
                    for event in events or ():
                        self.stream.publish(event)
        except Exception as exc:
            if isinstance(exc, LeaseLostError):
                self.refused += 1
            err = exc if isinstance(exc, StoreError) else StoreError(f"checkpoint failed: {exc}")
            if err is not exc:
                err.__cause__ = exc
            self.error = err  # what drain() raises: a StoreError, the driver's error its cause
            self.buf.clear()
            self.held.clear()
            self._release()
            self.fail(err)
        finally:
            self.task = None

    def stop(self) -> None:
        """Write nothing more: queued commits are dropped, later ones ignored."""
        self.stopped = True
        self.buf.clear()
        self.held.clear()
        self._release()

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
