"""The lease side of a durable run's hooks: holding, losing, releasing and re-claiming it.

``LeasedHooks`` is the base of ``DurableHooks`` (``_runtime/durable.py``, the commits). It
reacts to what the lease keeper reports (``_runtime/lease.py``): a lost lease stops the run
at once without another commit; a cancel request aborts it; posted answers are delivered.
A run that is idle waiting for input, or paused, releases its lease and is watched: when
another process continues it, this run hands over (and, with ``follow``, its ``done``
follows the stored outcome); when an answer queued it, this process claims it again.

``follow``: without it (a worker) a run handed over is simply dropped. ``settled`` resolves
once the run needs nothing more from this process: ``"finished"``, ``"handed over"`` or
``"lost"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from blazen._meta import STEP_INPUT
from blazen._runtime.committer import Committer
from blazen._runtime.lease import LeaseHold
from blazen._runtime.outcome import stored_outcome
from blazen._runtime.persist import abort_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunHooks
from blazen.errors import (
    LeaseLostError,
    RunAbortedError,
    StoreConflictError,
    StoreError,
    WorkflowError,
)
from blazen.events import InputResponseEvent
from blazen.snapshot import decode_event
from blazen.stores.base import DEFAULT_LEASE, CheckpointStore, Commit, RunRecord

__all__ = ["LeasedHooks"]

log = logging.getLogger("blazen.durable")


class LeasedHooks(RunHooks):
    """What a durable run does about its lease (see the module docstring)."""

    def __init__(
        self,
        run: Run,
        store: CheckpointStore,
        lease: float = DEFAULT_LEASE,
        *,
        follow: bool = True,
    ) -> None:
        self.run = run
        self.store = store
        self.follow = follow
        self.committer = Committer(store, run.run_id, "", run.stream, self._commit_failed)
        self.hold = LeaseHold(store, run.run_id, lease, self, self._alive)
        self.settled: asyncio.Future[str] = run.loop.create_future()
        self.delivered: set[str] = set()  # posted answers already routed here
        self.releasing = False

    def took(self, owner: str, epoch: int) -> None:
        """The store recorded this process's claim (owner ``owner``, fencing ``epoch``)."""
        self.hold.took(owner, epoch)
        self.committer.owner, self.committer.epoch = owner, epoch

    def _alive(self) -> bool:
        """Whether this process still uses its claim (for ``blazen._owners.is_dead``)."""
        run = self.run
        if run.loop.is_closed():
            return False
        return self.hold.held and (not run.finished or self.committer.busy)

    def _settle(self, how: str) -> None:
        self.hold.ended()
        if not self.settled.done():
            self.settled.set_result(how)

    def _commit_failed(self, error: BaseException) -> None:
        if isinstance(error, LeaseLostError):
            self.lease_lost(error)
        else:
            self.run.fail(error)

    def lease_lost(self, error: LeaseLostError) -> None:
        """Another process claimed the run: stop at once, commit nothing more."""
        self.committer.stop()
        run = self.run
        if not run.finished:
            run.halt("failed", error)
            run.stream.close()
        elif not run.done.done():
            run.done.set_exception(error)
            run.done.exception()
            run.stream.close()
        self._settle("lost")

    def abandon(self) -> None:
        """Stop here without any further commit, keeping the lease until it expires."""
        self.lease_lost(LeaseLostError(f"run {self.run.run_id} was abandoned by this process"))

    def cancel_requested(self) -> None:
        """``cancel(run_id)`` was called somewhere: abort the run here."""
        if not self.run.finished:
            self.run.loop.create_task(abort_run(self.run))

    def answers_posted(self) -> None:
        """Answers were posted to the store for this run: deliver them here."""
        self.run.loop.create_task(self._deliver_posted())

    async def _deliver_posted(self) -> None:
        run = self.run
        try:
            posted = await self.store.inbox(run.run_id)
        except StoreError as exc:
            log.warning("blazen: run %s: reading posted answers failed: %s", run.run_id, exc)
            return
        for pe in posted:
            if pe.event_id in self.delivered or run.finished or not self.hold.held:
                continue
            self.delivered.add(pe.event_id)
            event = decode_event(pe.event_type, pe.data, run.options.graph.classes)
            rid = getattr(event, "request_id", None)
            if isinstance(event, InputResponseEvent) and rid in run.waiting:
                run.respond(event, str(rid), consumed=pe.event_id)
            else:  # an answer to a request the run no longer waits for: consumed, unused
                self.committer.submit(Commit(STEP_INPUT, consumed=(pe.event_id,)))

    def record_changed(self, record: RunRecord) -> None:
        """A run this process released changed in the store."""
        hold, run = self.hold, self.run
        if not hold.watching or run.finished:
            return
        if record.epoch == hold.epoch and record.owner is None:
            if record.status == "queued" and run.status != "paused":
                hold.watching = False  # answered elsewhere: try to continue it here
                run.loop.create_task(self._continue_answered())
            return
        self.hand_over()

    async def _continue_answered(self) -> None:
        try:
            await self.ensure_held()
        except LeaseLostError:
            return  # another process took it; we follow its outcome
        await self._deliver_posted()

    def hand_over(self) -> None:
        """Another process continues the run: stop here (and follow its stored outcome)."""
        run = self.run
        if run.finished:
            return
        run.hand_over()
        self._settle("handed over")
        if self.follow:
            run.loop.create_task(self._follow())

    async def _follow(self) -> None:
        run = self.run
        try:
            stop = await stored_outcome(self.store, run.run_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            run.status = "cancelled" if isinstance(exc, RunAbortedError) else "failed"
            if not run.done.done():
                run.done.set_exception(exc)
        else:
            run.status = "completed"
            run.result_event = stop
            if not run.done.done():
                run.done.set_result(stop)
        finally:
            run.stream.close()

    async def ensure_held(self, *, ending: bool = False) -> None:
        """Claim the run again after this process released it (``LeaseLostError`` when
        another process continued it meanwhile; this run then follows that one).
        ``ending``: the run was just aborted here and its end is to be stored."""
        async with self.hold.lock:
            if self.hold.held:
                return
            if self.run.finished and not ending:
                raise WorkflowError(f"run {self.run.run_id} is {self.run.status} here")
            try:
                await self.hold.reacquire()
            except (LeaseLostError, StoreConflictError) as exc:
                self.hand_over()
                if isinstance(exc, LeaseLostError):
                    raise
                raise LeaseLostError(
                    f"run {self.run.run_id} is continued by another process: {exc}"
                ) from exc
            self.committer.owner, self.committer.epoch = self.hold.owner, self.hold.epoch

    def idle_waiting(self) -> None:
        """Only an answer can move the run: release the lease once the commits landed."""
        if self.hold.held and not self.releasing:
            self.releasing = True
            self.run.loop.create_task(self._release_idle())

    def _idle(self) -> bool:
        run = self.run
        return (
            not run.finished
            and run.status == "running"
            and bool(run.waiting)
            and not run.busy
            and not run.ready
        )

    async def _release_idle(self) -> None:
        try:
            async with self.hold.lock:
                with contextlib.suppress(Exception):
                    await self.committer.drain()
                if not self._idle() or not self.hold.held or self.committer.stopped:
                    return
                await self.hold.release(watch=self.follow)
                if not self.follow:
                    self.hand_over()
        except StoreError as exc:
            log.warning("blazen: run %s: releasing its lease failed: %s", self.run.run_id, exc)
        finally:
            self.releasing = False

    async def before_input(self) -> None:
        await self.ensure_held()

    def lease_fresh(self) -> bool:
        hold = self.hold
        return hold.held and hold.fresh()

    async def lease_checked(self) -> None:
        # A renewal sent before a stall and answered after it confirms nothing now: wait
        # until one sent since confirms the lease, or the lease is found lost.
        while self.hold.held and not self.hold.fresh():
            await self.hold.confirmed()

    async def hand_off(self) -> None:
        """Stop here and let another worker continue the run (a worker draining).

        Steps still running are cancelled (their work is not committed: the next owner
        runs them again, as after a crash); the commits already made land first.
        """
        run = self.run
        if run.finished:
            return
        unfinished = bool(run.queued_items()) or run.busy > 0
        run.hand_over()
        self.follow = False
        try:
            async with self.hold.lock:
                with contextlib.suppress(Exception):
                    await self.committer.drain()
                if self.hold.held and not self.committer.stopped:
                    await self.hold.release(requeue=unfinished or not run.waiting)
        finally:
            self._settle("handed over")

    async def _cancel_released(self) -> None:
        """Abort a run this process had released: claim it again, else ask its owner."""
        try:
            await self.ensure_held(ending=True)
        except LeaseLostError:
            with contextlib.suppress(StoreError):
                await self.store.cancel(self.run.run_id)
            self.run.stream.close()
            return
        await self.halted("cancelled")
