"""Durable runs: a commit per step to a ``CheckpointStore``, under a lease on the run.

Commits are pipelined: a finished step's commit is queued and written by one background
flusher per run (``_runtime/committer.py``), in order, many per transaction when steps
outpace the store. What the outside world sees follows the commits: events a step wrote
to the stream (and the input requests it made) are published once its commit has landed,
and the run's result is handed out only after every commit is durable. The step that
returns the ``StopEvent`` commits its work and the run's result in one write.

Every commit carries the fencing epoch of this process's claim (``_runtime/lease.py``). A
lost lease stops the run at once, with no further commit. A run that is paused, or idle
and waiting for input, releases its lease: any process may then answer or continue it. The
entry points (start, resume, recover, fork, adopt, submit) are in ``_runtime/claims.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from blazen._call import StepCall
from blazen._context_data import persistence
from blazen._meta import STEP_END, STEP_INPUT, STEP_RESUME, WAITING_STATE_KEY
from blazen._runtime.committer import Committer
from blazen._runtime.lease import LeaseHold
from blazen._runtime.outcome import stored_outcome
from blazen._runtime.persist import abort_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunHooks, RunStatus
from blazen.errors import (
    LeaseLostError,
    RunAbortedError,
    StoreConflictError,
    StoreError,
    WorkflowError,
)
from blazen.events import Event, InputResponseEvent
from blazen.snapshot import decode_event, encode_event
from blazen.stores.base import DEFAULT_LEASE, CheckpointStore, Commit, PendingEvent, RunRecord
from blazen.values import StateValue, to_state_value

__all__ = ["DurableHooks", "result_value", "waiting_value"]

log = logging.getLogger("blazen.durable")


class DurableHooks(RunHooks):
    """Turns a run's progress into commits, under this process's lease on the run.

    ``follow``: when another process continues a run this one released (paused, or idle
    waiting for input), this run's ``done`` follows the stored outcome; without it (a
    worker) the run is simply dropped. ``settled`` resolves once the run needs nothing more
    from this process: ``"finished"``, ``"handed over"`` or ``"lost"``.
    """

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
        self.prefix = secrets.token_hex(4) + "-"
        self.n = 0
        # The collect buffers as of the last commit: each step's changes land at its commit.
        self.shadow: dict[str, list[tuple[Event, Any]]] = {}
        self.taken_early: dict[int, Event] = {}
        self.waiting_dirty = False
        self.terminal: asyncio.Future[None] = run.loop.create_future()
        run.hooks = self
        persistence(run.ctx).start_recording()

    # -- the lease -----------------------------------------------------------------------

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

    async def ensure_held(self) -> None:
        """Claim the run again after this process released it (``LeaseLostError`` when
        another process continued it meanwhile; this run then follows that one)."""
        async with self.hold.lock:
            if self.hold.held:
                return
            if self.run.finished:
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
        return self.hold.fresh() or not self.hold.held

    async def lease_checked(self) -> None:
        if self.hold.held and not self.hold.fresh():
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

    def _ambient(self) -> dict[str, list[Any]] | None:
        return self._collected() if self._apply_ambient_ops() else None

    # -- commits --------------------------------------------------------------------------

    def sync_shadow(self) -> None:
        """After a restore: the buffers now in the context are the committed ones."""
        collected = persistence(self.run.ctx).export_collected()
        self.shadow = {t: [(ev, encode_event(ev)) for ev in evs] for t, evs in collected.items()}
        self.taken_early.clear()

    def new_event_id(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"

    def step_done(
        self, step: str, consumed: str | None, call: StepCall
    ) -> asyncio.Future[None] | None:
        emitted = tuple(
            PendingEvent(eid, ev.event_type, encode_event(ev), call.step, target)
            for eid, ev, target in (call.emitted or ())
        )
        writes = self.take_writes()
        state_value = persistence(self.run.ctx).state_value
        for key, stored in (call.writes or {}).items():
            writes[key] = state_value(stored)
        changed = self._apply_ambient_ops()
        changed = self._apply(call.collect_ops or ()) or changed
        status: RunStatus = "waiting" if self.run.waiting else "running"
        result = None
        if call.stop is not None:
            status, result = "completed", result_value(call.stop)
        commit = Commit(
            step=step,
            consumed=(consumed,) if consumed else (),
            emitted=emitted,
            writes=writes,
            collected=self._collected() if changed else None,
            status=status,
            result=result,
            attempt=call.attempt,
        )
        backlog = self.committer.submit(commit, call.published)
        if call.stop is not None and not self.terminal.done():
            self.terminal.set_result(None)
        return backlog

    def take_writes(self) -> dict[str, StateValue | None]:
        """Keys written outside any step since the last commit, and the awaited requests."""
        writes = persistence(self.run.ctx).take_writes()
        if self.waiting_dirty:
            self.waiting_dirty = False
            writes[WAITING_STATE_KEY] = waiting_value(self.run)
        return writes

    def _apply_ambient_ops(self) -> bool:
        ops = persistence(self.run.ctx).take_collect_ops()
        return self._apply(ops) if ops else False

    def _apply(self, ops: Iterable[Any]) -> bool:
        """Replay one step's ``collect_events`` changes on the committed buffers."""
        changed = False
        for op in ops:
            changed = True
            if op[0] == "add":
                _, etype, ev = op
                if self.taken_early.pop(id(ev), None) is None:
                    self.shadow.setdefault(etype, []).append((ev, encode_event(ev)))
                continue
            for ev in op[1]:  # "take": remove by identity; early if its add is not committed
                entries = self.shadow.get(ev.event_type, [])
                at = next((i for i, (e, _) in enumerate(entries) if e is ev), None)
                if at is None:
                    self.taken_early[id(ev)] = ev
                    continue
                del entries[at]
                if not entries:
                    del self.shadow[ev.event_type]
        return changed

    def _collected(self) -> dict[str, list[Any]]:
        return {t: [data for _, data in entries] for t, entries in self.shadow.items()}

    def attempt_failed(self, step: str, attempt: int, error: str, notice: Event) -> None:
        self.committer.submit(Commit(step, attempt=attempt, attempt_error=error), (notice,))

    def waiting_changed(self) -> None:
        """Waiting requests are persisted with the next commit (a reserved write)."""
        self.waiting_dirty = True

    def finished(
        self, error: BaseException | None, done: asyncio.Future[Any], carrier: StepCall | None
    ) -> None:
        if error is None and carrier is None:
            # Ended by an event no step commit carries (e.g. replayed from a snapshot).
            result = result_value(self.run.result_event)
            self.committer.submit(Commit(STEP_END, status="completed", result=result))
            self.terminal.set_result(None)
        elif error is not None:
            self.committer.submit(Commit(STEP_END, status="failed", error=str(error)))
        self.run.loop.create_task(self._resolve(error, done))

    async def _resolve(self, error: BaseException | None, done: asyncio.Future[Any]) -> None:
        if error is None:
            await self.terminal  # the step that returned the StopEvent has queued its commit
        try:
            await self.committer.drain()
        except Exception as exc:
            error = error or exc
        self.run.stream.close()
        self._settle("finished")  # the final commit ended the lease in the store
        if done.done():
            return
        if error is None and self.run.result_event is not None:
            done.set_result(self.run.result_event)
        else:
            done.set_exception(error or WorkflowError("run failed"))

    async def halted(self, status: RunStatus) -> None:
        if status == "cancelled" and not self.hold.held:
            await self._cancel_released()
            return
        await self.ensure_held()  # a run idle-waiting for input had released its lease
        stored = status
        if status == "paused" and self.run.waiting and not self.run.queued_items():
            stored = "waiting"  # paused while only an answer could move it: still waiting
        writes = self.take_writes()
        self.committer.submit(
            Commit(step=f"<{status}>", writes=writes, collected=self._ambient(), status=stored)
        )
        try:
            await self.committer.drain()
            if status == "paused":
                async with self.hold.lock:
                    await self.hold.release(watch=self.follow)
        finally:
            if status != "paused":
                self.run.stream.close()
                self._settle("finished")

    async def _cancel_released(self) -> None:
        """Abort a run this process had released: claim it again, else ask its owner."""
        try:
            await self.ensure_held()
        except LeaseLostError:
            with contextlib.suppress(StoreError):
                await self.store.cancel(self.run.run_id)
            self.run.stream.close()
            return
        await self.halted("cancelled")

    async def resumed(self) -> None:
        await self.ensure_held()
        status: RunStatus = "waiting" if self.run.waiting else "running"
        self.committer.submit(Commit(step=STEP_RESUME, status=status))
        await self.committer.drain()


def waiting_value(run: Run) -> StateValue:
    """The awaited input requests, stored as a reserved context entry."""
    return StateValue.Json(
        {
            rid: {"source_step": src, "event": encode_event(ev)}
            for rid, (src, ev) in run.waiting.items()
        }
    )


def result_value(stop: Event | None) -> StateValue | None:
    """The stored form of a run's result (``None`` when it cannot be stored)."""
    try:
        return to_state_value(getattr(stop, "result", None))
    except Exception:
        return None
