"""Durable runs: a commit per step to a ``CheckpointStore``, resume and fork from it.

Commits are pipelined: a finished step's commit is queued and written by one background
flusher per run, in order, many per transaction when steps outpace the store. The run's
result is handed out only after every commit is durable, so a process that dies loses
at most the steps whose commits had not landed; they run again on resume.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from blazen._call import DELETED, StepCall
from blazen._meta import WAITING_STATE_KEY
from blazen._runtime.persist import restore_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunHooks
from blazen.context import Context
from blazen.errors import StoreConflictError, StoreError, WorkflowError
from blazen.events import Event, InputRequestEvent, StartEvent, StopEvent
from blazen.snapshot import WorkflowSnapshot, decode_event, encode_event
from blazen.stores.base import FINISHED, CheckpointStore, Commit, LoadedRun, PendingEvent
from blazen.values import StateValue, to_state_value

if TYPE_CHECKING:
    from blazen.workflow import Workflow

__all__ = ["adopt_snapshot", "fork_durable", "resume_durable", "start_durable"]

_BACKLOG = 4096


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class _Committer:
    """Writes a run's commits in order, batching whatever queued up during the last write."""

    def __init__(self, store: CheckpointStore, run: Run, owner: str) -> None:
        self.store, self.run, self.owner = store, run, owner
        self.buf: list[Commit] = []
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.space: asyncio.Future[None] | None = None

    def submit(self, commit: Commit) -> asyncio.Future[None] | None:
        self.buf.append(commit)
        if self.task is None:
            self.task = self.run.loop.create_task(self._flush())
        if len(self.buf) >= _BACKLOG:
            if self.space is None:
                self.space = self.run.loop.create_future()
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
                batch, self.buf = self.buf, []
                self._release()
                await self.store.commit(self.run.run_id, batch, owner=self.owner)
        except Exception as exc:
            self.error = exc
            self.buf.clear()
            self._release()
            err = exc if isinstance(exc, StoreError) else StoreError(f"checkpoint failed: {exc}")
            if err is not exc:
                err.__cause__ = exc
            self.run.fail(err)
        finally:
            self.task = None

    async def drain(self) -> None:
        while self.task is not None:
            await asyncio.shield(self.task)
        if self.error is not None:
            raise self.error


class DurableHooks(RunHooks):
    """Turns a run's progress into commits."""

    def __init__(self, run: Run, store: CheckpointStore, owner: str) -> None:
        self.run = run
        self.committer = _Committer(store, run, owner)
        self.prefix = secrets.token_hex(4) + "-"
        self.n = 0
        # The collect buffers as of the last commit: each step's changes land at its commit.
        self.shadow: dict[str, list[tuple[Event, Any]]] = {}
        self.taken_early: dict[int, Event] = {}
        run.hooks = self
        run.ctx._dirty = set()

    def sync_shadow(self) -> None:
        """After a restore: the buffers now in the context are the committed ones."""
        self.shadow = {
            t: [(ev, encode_event(ev)) for ev in evs] for t, evs in self.run.ctx._collected.items()
        }
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
        writes = take_writes(self.run)
        for key, stored in (call.writes or {}).items():
            writes[key] = None if stored is DELETED else Context._as_state_value(stored, copy=False)
        changed = self._apply_ambient_ops()
        changed = self._apply(call.collect_ops or ()) or changed
        commit = Commit(
            step=step,
            consumed=(consumed,) if consumed else (),
            emitted=emitted,
            writes=writes,
            collected=self._collected() if changed else None,
            status="waiting" if self.run.waiting else "running",
        )
        return self.committer.submit(commit)

    def _apply_ambient_ops(self) -> bool:
        ops = self.run.ctx._ambient_ops
        if not ops:
            return False
        self.run.ctx._ambient_ops = []
        return self._apply(ops)

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

    def waiting_changed(self) -> None:
        """Waiting requests are persisted with the next commit (a reserved write)."""
        self.run.ctx._mark(WAITING_STATE_KEY)

    def finished(
        self, stop: StopEvent | None, error: BaseException | None, done: asyncio.Future[StopEvent]
    ) -> None:
        # Deferred so that the commit of the step that returned the StopEvent goes first.
        self.run.loop.call_soon(self._final_commit, stop, error, done)

    def _final_commit(
        self, stop: StopEvent | None, error: BaseException | None, done: asyncio.Future[StopEvent]
    ) -> None:
        if stop is not None:
            result = _result_value(stop.result)
            self.committer.submit(Commit(step="<end>", status="completed", result=result))
        else:
            self.committer.submit(Commit(step="<end>", status="failed", error=str(error)))
        self.run.loop.create_task(self._resolve(stop, error, done))

    async def _resolve(
        self, stop: StopEvent | None, error: BaseException | None, done: asyncio.Future[StopEvent]
    ) -> None:
        try:
            await self.committer.drain()
        except Exception as exc:
            error = error or exc
        if done.done():
            return
        if stop is not None and error is None:
            done.set_result(stop)
        else:
            done.set_exception(error or WorkflowError("run failed"))

    async def halted(self, status: str) -> None:
        writes = take_writes(self.run)
        collected = self._collected() if self._apply_ambient_ops() else None
        self.committer.submit(
            Commit(step=f"<{status}>", writes=writes, collected=collected, status=status)  # type: ignore[arg-type]
        )
        await self.committer.drain()


def _waiting_value(run: Run) -> StateValue:
    """The awaited input requests, stored as a reserved context entry."""
    return StateValue.Json(
        {
            rid: {"source_step": src, "event": encode_event(ev)}
            for rid, (src, ev) in run.waiting.items()
        }
    )


def _result_value(result: Any) -> StateValue | None:
    try:
        return to_state_value(result)
    except Exception:
        return None


def take_writes(run: Run) -> dict[str, StateValue | None]:
    """Keys written outside any step since the last commit, with their current values."""
    ctx = run.ctx
    dirty = ctx._dirty
    if not dirty:
        return {}
    ctx._dirty = set()
    data = ctx._data
    writes: dict[str, StateValue | None] = {}
    for key in dirty:
        if key == WAITING_STATE_KEY:
            writes[key] = _waiting_value(run)
        elif key in data:
            writes[key] = Context._as_state_value(data[key], copy=False)
        else:
            writes[key] = None
    return writes


async def start_durable(run: Run, store: CheckpointStore, start: StartEvent) -> None:
    """Write commit 0 of a new run (its StartEvent deliveries), then queue them."""
    hooks = DurableHooks(run, store, _owner())
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
        metadata=_metadata(run),
    )
    for name, eid in items:
        run.enqueue(name, (start, None, eid))


def _metadata(run: Run, **extra: Any) -> dict[str, Any]:
    return {"steps": run.options.graph.fingerprint(), **extra}


def _check_matches(wf: Workflow, run_id: str, metadata: Any) -> None:
    stored = metadata.get("steps") if isinstance(metadata, dict) else None
    now = wf.graph.fingerprint()
    if stored is not None and stored != now:
        raise StoreConflictError(
            f"run {run_id} was checkpointed by workflow {wf.name!r} with steps {stored}; "
            f"the workflow now has {now}: its steps no longer match the checkpoint"
        )


def _restore_loaded(run: Run, loaded: LoadedRun, classes: dict[str, type[Event]]) -> None:
    ctx = run.ctx
    state = dict(loaded.context_state)
    waiting = state.pop(WAITING_STATE_KEY, None)
    for key, sv in state.items():
        ctx.set_value(key, sv)
    for etype, datas in loaded.collected.items():
        ctx._collected[etype] = [decode_event(etype, d, classes) for d in datas]
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


async def resume_durable(wf: Workflow, store: CheckpointStore, run_id: str) -> Run:
    """Claim a stored run and continue it from its last commit."""
    record = await store.get_run(run_id)
    if record.workflow_name != wf.name:
        raise StoreConflictError(
            f"run {run_id} belongs to workflow {record.workflow_name!r}, not {wf.name!r}"
        )
    if record.status in FINISHED and record.status != "failed":
        raise WorkflowError(f"run {run_id} is already {record.status}; there is nothing to resume")
    _check_matches(wf, run_id, record.metadata)
    run = wf._new_run(run_id)
    hooks = DurableHooks(run, store, _owner())
    await store.claim(run_id, hooks.committer.owner)
    loaded = await store.load(run_id)
    run.ctx._dirty = None
    _restore_loaded(run, loaded, wf.graph.classes)
    run.ctx._dirty = set()
    hooks.sync_shadow()
    hooks.committer.submit(Commit(step="<resume>", status="waiting" if run.waiting else "running"))
    run.start()
    return run


async def fork_durable(wf: Workflow, store: CheckpointStore, run_id: str, seq: int | None) -> Run:
    """A new run starting from ``run_id``'s state after commit ``seq``."""
    loaded = await store.load(run_id, seq)
    if loaded.record.workflow_name != wf.name:
        raise StoreConflictError(
            f"run {run_id} belongs to workflow {loaded.record.workflow_name!r}, not {wf.name!r}"
        )
    _check_matches(wf, run_id, loaded.record.metadata)
    if not loaded.pending and WAITING_STATE_KEY not in loaded.context_state:
        raise WorkflowError(
            f"run {run_id} has nothing left to run after commit {loaded.seq} (no pending "
            f"event, no awaited input): fork from an earlier commit"
        )
    import uuid

    run = wf._new_run(str(uuid.uuid4()))
    hooks = DurableHooks(run, store, _owner())
    await store.create_run(
        run.run_id,
        wf.name,
        owner=hooks.committer.owner,
        context_state=loaded.context_state,
        pending=loaded.pending,
        collected=loaded.collected,
        metadata=_metadata(run, forked_from={"run_id": run_id, "seq": loaded.seq}),
        status="waiting" if WAITING_STATE_KEY in loaded.context_state else "running",
    )
    run.ctx._dirty = None
    _restore_loaded(run, loaded, wf.graph.classes)
    run.ctx._dirty = set()
    hooks.sync_shadow()
    run.start()
    return run


async def adopt_snapshot(wf: Workflow, run: Run, snapshot: WorkflowSnapshot) -> None:
    """Resume a snapshot on a durable workflow: the stored run continues (or is created)."""
    store = wf.store
    assert store is not None
    hooks = DurableHooks(run, store, _owner())
    run.ctx._dirty = None
    restore_run(run, snapshot)
    hooks.sync_shadow()
    try:
        await store.get_run(run.run_id)
        exists = True
    except StoreError:
        exists = False
    owner = hooks.committer.owner
    if exists:
        # The stored history continues: rewrite the whole state as one commit.
        await store.claim(run.run_id, owner)
        loaded = await store.load(run.run_id)
        writes: dict[str, StateValue | None] = dict.fromkeys(loaded.context_state)
        writes.update(_snapshot_writes(run))
        hooks.committer.submit(
            Commit(
                step="<resume>",
                consumed=tuple(p.event_id for p in loaded.pending),
                emitted=_pending_of(run),
                writes=writes,
                collected=_collected_of(run),
                status="waiting" if run.waiting else "running",
            )
        )
    else:
        await store.create_run(
            run.run_id,
            wf.name,
            owner=owner,
            context_state=_snapshot_writes(run),
            pending=_pending_of(run),
            collected=_collected_of(run) or {},
            metadata=_metadata(run, resumed_from="snapshot"),
            status="waiting" if run.waiting else "running",
        )
    run.ctx._dirty = set()


def _snapshot_writes(run: Run) -> dict[str, StateValue]:
    writes = {k: Context._as_state_value(v, copy=False) for k, v in run.ctx._data.items()}
    if run.waiting:
        writes[WAITING_STATE_KEY] = _waiting_value(run)
    return writes


def _collected_of(run: Run) -> dict[str, list[Any]] | None:
    return {t: [encode_event(e) for e in evs] for t, evs in run.ctx._collected.items()}


def _pending_of(run: Run) -> tuple[PendingEvent, ...]:
    return tuple(
        PendingEvent(item[2] or "", item[0].event_type, encode_event(item[0]), item[1], name)
        for name, item in run.queued_items()
    )
