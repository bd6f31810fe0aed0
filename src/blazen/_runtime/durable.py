"""Durable runs: a commit per step to a ``CheckpointStore``; start, resume, fork, adopt.

Commits are pipelined: a finished step's commit is queued and written by one background
flusher per run (``_runtime/committer.py``), in order, many per transaction when steps
outpace the store. What the outside world sees follows the commits: events a step wrote
to the stream (and the input requests it made) are published once its commit has landed,
and the run's result is handed out only after every commit is durable. The step that
returns the ``StopEvent`` commits its work and the run's result in one write.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import Any

from blazen._call import StepCall
from blazen._context_data import persistence
from blazen._ids import new_run_id
from blazen._meta import STEP_END, STEP_RESUME, WAITING_STATE_KEY
from blazen._runtime.committer import Committer, new_owner
from blazen._runtime.persist import restore_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunHooks, RunOptions, RunStatus
from blazen.draw import describe
from blazen.errors import StoreConflictError, StoreError, WorkflowError
from blazen.events import Event, InputRequestEvent, StartEvent
from blazen.snapshot import WorkflowSnapshot, decode_event, encode_event
from blazen.status import FINISHED
from blazen.stores.base import CheckpointStore, Commit, LoadedRun, PendingEvent
from blazen.values import StateValue, to_state_value

__all__ = ["adopt_snapshot", "fork_durable", "resume_durable", "start_durable"]


class DurableHooks(RunHooks):
    """Turns a run's progress into commits."""

    def __init__(self, run: Run, store: CheckpointStore, owner: str) -> None:
        self.run = run
        self.committer = Committer(store, run.run_id, owner, run.stream, run.fail)
        self.prefix = secrets.token_hex(4) + "-"
        self.n = 0
        # The collect buffers as of the last commit: each step's changes land at its commit.
        self.shadow: dict[str, list[tuple[Event, Any]]] = {}
        self.taken_early: dict[int, Event] = {}
        self.waiting_dirty = False
        self.terminal: asyncio.Future[None] = run.loop.create_future()
        run.hooks = self
        run.lean = False  # every step's call records what it did, for its own commit
        persistence(run.ctx).start_recording()

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
            status, result = "completed", _result_value(call.stop)
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
            writes[WAITING_STATE_KEY] = _waiting_value(self.run)
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
            result = _result_value(self.run.result_event)
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
        if done.done():
            return
        if error is None and self.run.result_event is not None:
            done.set_result(self.run.result_event)
        else:
            done.set_exception(error or WorkflowError("run failed"))

    async def halted(self, status: RunStatus) -> None:
        writes = self.take_writes()
        collected = self._collected() if self._apply_ambient_ops() else None
        self.committer.submit(
            Commit(step=f"<{status}>", writes=writes, collected=collected, status=status)
        )
        try:
            await self.committer.drain()
        finally:
            if status != "paused":
                self.run.stream.close()

    async def resumed(self) -> None:
        status: RunStatus = "waiting" if self.run.waiting else "running"
        self.committer.submit(Commit(step=STEP_RESUME, status=status))
        await self.committer.drain()


def _waiting_value(run: Run) -> StateValue:
    """The awaited input requests, stored as a reserved context entry."""
    return StateValue.Json(
        {
            rid: {"source_step": src, "event": encode_event(ev)}
            for rid, (src, ev) in run.waiting.items()
        }
    )


def _result_value(stop: Event | None) -> StateValue | None:
    """The stored form of a run's result (``None`` when it cannot be stored)."""
    try:
        return to_state_value(getattr(stop, "result", None))
    except Exception:
        return None


def _metadata(options: RunOptions, **extra: Any) -> dict[str, Any]:
    """Stored with a run: its steps (to detect changed code) and its graph (for viewers)."""
    graph = describe(options.graph, name=options.name)
    return {"steps": options.graph.fingerprint(), "graph": graph, **extra}


def _traced(run: Run) -> dict[str, Any]:
    """The run's trace context, to store with it (a process that takes it over continues it)."""
    return {} if run.observer is None else {"trace": run.observer.carrier()}


def _trace_of(metadata: Any) -> dict[str, str] | None:
    """The trace context stored with a run, if any."""
    trace = metadata.get("trace") if isinstance(metadata, dict) else None
    return trace if isinstance(trace, dict) else None


async def start_durable(run: Run, store: CheckpointStore, start: StartEvent) -> None:
    """Write commit 0 of a new run (its StartEvent deliveries), then queue them."""
    hooks = DurableHooks(run, store, new_owner())
    targets = run.routes[StartEvent.event_type]
    items = [(spec.name, hooks.new_event_id()) for spec in targets]
    data = encode_event(start)
    await store.create_run(
        run.run_id,
        run.options.name,
        owner=hooks.committer.owner,
        context_state={},
        pending=[PendingEvent(eid, start.event_type, data, None, name) for name, eid in items],
        collected={},
        metadata=_metadata(run.options, **_traced(run)),
    )
    for name, eid in items:
        run.enqueue(name, (start, None, eid))


def _check_matches(options: RunOptions, run_id: str, workflow_name: str, metadata: Any) -> None:
    """The stored run belongs to this workflow, and its steps did not change since."""
    if workflow_name != options.name:
        raise StoreConflictError(
            f"run {run_id} belongs to workflow {workflow_name!r}, not {options.name!r}"
        )
    stored = metadata.get("steps") if isinstance(metadata, dict) else None
    now = options.graph.fingerprint()
    if stored is not None and stored != now:
        raise StoreConflictError(
            f"run {run_id} was checkpointed by workflow {options.name!r} with steps {stored}; "
            f"the workflow now has {now}: its steps no longer match the checkpoint"
        )


def _restore_loaded(run: Run, loaded: LoadedRun) -> None:
    classes = run.options.graph.classes
    view = persistence(run.ctx)
    state = dict(loaded.context_state)
    waiting = state.pop(WAITING_STATE_KEY, None)
    view.restore_state(state)
    view.restore_collected(
        {t: [decode_event(t, d, classes) for d in datas] for t, datas in loaded.collected.items()}
    )
    if isinstance(waiting, StateValue.Json) and isinstance(waiting.value, dict):
        for rid, entry in waiting.value.items():
            ev = decode_event(InputRequestEvent.event_type, entry["event"], classes)
            run.waiting[rid] = (entry.get("source_step"), ev)  # type: ignore[assignment]
    for pe in loaded.pending:
        ev = decode_event(pe.event_type, pe.data, classes)
        target = pe.target_step
        if target is None or target not in run.specs:
            raise StoreConflictError(
                f"run {loaded.record.run_id}: pending {pe.event_type!r} event is for step "
                f"{target!r}, which this workflow does not have"
            )
        run.enqueue(target, (ev, pe.source_step, pe.event_id))


async def resume_durable(options: RunOptions, store: CheckpointStore, run_id: str) -> Run:
    """Claim a stored run and continue it from its last commit."""
    record = await store.get_run(run_id)
    if record.status in FINISHED and record.status != "failed":
        raise WorkflowError(f"run {run_id} is already {record.status}; there is nothing to resume")
    _check_matches(options, run_id, record.workflow_name, record.metadata)
    run = Run(options, run_id, _trace_of(record.metadata), resumed=True)
    hooks = DurableHooks(run, store, new_owner())
    await store.claim(run_id, hooks.committer.owner)
    loaded = await store.load(run_id)
    _restore_loaded(run, loaded)
    hooks.sync_shadow()
    status: RunStatus = "waiting" if run.waiting else "running"
    hooks.committer.submit(Commit(step=STEP_RESUME, status=status))
    return run


async def fork_durable(
    options: RunOptions, store: CheckpointStore, run_id: str, seq: int | None
) -> Run:
    """A new run starting from ``run_id``'s state after commit ``seq``."""
    loaded = await store.load(run_id, seq)
    _check_matches(options, run_id, loaded.record.workflow_name, loaded.record.metadata)
    if not loaded.pending and WAITING_STATE_KEY not in loaded.context_state:
        raise WorkflowError(
            f"run {run_id} has nothing left to run after commit {loaded.seq} (no pending "
            f"event, no awaited input): fork from an earlier commit"
        )
    run = Run(options, new_run_id())
    hooks = DurableHooks(run, store, new_owner())
    await store.create_run(
        run.run_id,
        options.name,
        owner=hooks.committer.owner,
        context_state=loaded.context_state,
        pending=loaded.pending,
        collected=loaded.collected,
        metadata=_metadata(
            options, forked_from={"run_id": run_id, "seq": loaded.seq}, **_traced(run)
        ),
        status="waiting" if WAITING_STATE_KEY in loaded.context_state else "running",
    )
    _restore_loaded(run, loaded)
    hooks.sync_shadow()
    return run


async def adopt_snapshot(run: Run, store: CheckpointStore, snapshot: WorkflowSnapshot) -> None:
    """Resume a snapshot on a durable workflow: the stored run continues (or is created).

    A stored run that already completed (or was cancelled) is refused: running it again
    would repeat its side effects and add a second ending to its history.
    """
    hooks = DurableHooks(run, store, new_owner())
    with persistence(run.ctx).recording_off():
        restore_run(run, snapshot)
    hooks.sync_shadow()
    try:
        record = await store.get_run(run.run_id)
    except StoreError:
        record = None
    owner = hooks.committer.owner
    status: RunStatus = "waiting" if run.waiting else "running"
    if record is not None:
        if record.status in FINISHED and record.status != "failed":
            raise WorkflowError(
                f"run {run.run_id} is already {record.status} in the store; its snapshot "
                f"cannot be resumed (fork_run starts a new run from one of its checkpoints)"
            )
        # The stored history continues: rewrite the whole state as one commit.
        await store.claim(run.run_id, owner)
        loaded = await store.load(run.run_id)
        writes: dict[str, StateValue | None] = dict.fromkeys(loaded.context_state)
        writes.update(_snapshot_writes(run))
        hooks.committer.submit(
            Commit(
                step=STEP_RESUME,
                consumed=tuple(p.event_id for p in loaded.pending),
                emitted=_pending_of(run),
                writes=writes,
                collected=_collected_of(run),
                status=status,
            )
        )
    else:
        await store.create_run(
            run.run_id,
            run.options.name,
            owner=owner,
            context_state=_snapshot_writes(run),
            pending=_pending_of(run),
            collected=_collected_of(run),
            metadata=_metadata(run.options, resumed_from="snapshot", **_traced(run)),
            status=status,
        )


def _snapshot_writes(run: Run) -> dict[str, StateValue]:
    writes = persistence(run.ctx).export_state(copy=False)
    if run.waiting:
        writes[WAITING_STATE_KEY] = _waiting_value(run)
    return writes


def _collected_of(run: Run) -> dict[str, list[Any]]:
    collected = persistence(run.ctx).export_collected()
    return {t: [encode_event(e) for e in evs] for t, evs in collected.items()}


def _pending_of(run: Run) -> tuple[PendingEvent, ...]:
    return tuple(
        PendingEvent(item[2] or "", item[0].event_type, encode_event(item[0]), item[1], name)
        for name, item in run.queued_items()
    )
