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
import secrets
from collections.abc import Iterable
from typing import Any

from blazen._call import StepCall
from blazen._context_data import persistence
from blazen._meta import STEP_END, STEP_RESUME, WAITING_STATE_KEY
from blazen._runtime.committer import StepParts
from blazen._runtime.leased import LeasedHooks
from blazen._runtime.run import Run
from blazen._runtime.types import RunStatus
from blazen.errors import (
    WorkflowError,
)
from blazen.events import Event
from blazen.snapshot import encode_event
from blazen.stores.base import DEFAULT_LEASE, CheckpointStore, Commit
from blazen.values import StateValue, to_state_value

__all__ = ["DurableHooks", "result_value", "waiting_value"]


class DurableHooks(LeasedHooks):
    """Turns a run's progress into commits, under this process's lease on the run (the
    lease's side is ``LeasedHooks``)."""

    def __init__(
        self,
        run: Run,
        store: CheckpointStore,
        lease: float = DEFAULT_LEASE,
        *,
        follow: bool = True,
    ) -> None:
        super().__init__(run, store, lease, follow=follow)
        self.prefix = secrets.token_hex(4) + "-"
        self.n = 0
        # The collect buffers as of the last commit: each step's changes land at its commit.
        self.shadow: dict[str, list[tuple[Event, Any]]] = {}
        self.taken_early: dict[int, Event] = {}
        self.waiting_dirty = False
        self.terminal: asyncio.Future[None] = run.loop.create_future()
        run.hooks = self
        run.lean = False  # every step's call records what it did, for its own commit
        self.persist = persistence(run.ctx)  # the run's context is never replaced
        self.persist.start_recording()

    def _ambient(self) -> dict[str, list[Any]] | None:
        return self._collected() if self._apply_ambient_ops() else None

    # -- commits --------------------------------------------------------------------------

    def sync_shadow(self) -> None:
        """After a restore: the buffers now in the context are the committed ones."""
        collected = self.persist.export_collected()
        self.shadow = {t: [(ev, encode_event(ev)) for ev in evs] for t, evs in collected.items()}
        self.taken_early.clear()

    def new_event_id(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"

    def step_done(
        self, step: str, consumed: tuple[str, ...], call: StepCall
    ) -> asyncio.Future[None] | None:
        deliveries = call.emitted
        events = (
            [(eid, ev.event_type, step, target, encode_event(ev)) for eid, ev, target in deliveries]
            if deliveries
            else ()
        )
        writes = self.take_writes(call.writes)
        changed = self._apply_ambient_ops()
        if call.collect_ops:
            changed = self._apply(call.collect_ops) or changed
        result = None
        if call.stop is not None:
            status: RunStatus = "completed"
            result = result_value(call.stop)
        else:
            status = "waiting" if self.run.waiting else "running"
        collected = self._collected() if changed else None
        parts = StepParts(step, consumed, events, writes, collected, status, result, call.attempt)
        backlog = self.committer.submit(parts, call.published)
        if call.stop is not None and not self.terminal.done():
            self.terminal.set_result(None)
        return backlog

    def take_writes(self, recorded: dict[str, Any] | None = None) -> dict[str, StateValue | None]:
        """Keys written outside any step since the last commit, then a step's ``recorded``
        writes, and the awaited requests."""
        writes = self.persist.step_writes(recorded)
        if self.waiting_dirty:
            self.waiting_dirty = False
            writes[WAITING_STATE_KEY] = waiting_value(self.run)
        return writes

    def _apply_ambient_ops(self) -> bool:
        ops = self.persist.take_collect_ops()
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

    def attempt_failed(self, step: str, attempt: int, error: str, notice: Event | None) -> None:
        published = (notice,) if notice is not None else None
        self.committer.submit(Commit(step, attempt=attempt, attempt_error=error), published)

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
            if self.run.status == "completed":
                self.run.status = "failed"  # its ending never became durable
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
