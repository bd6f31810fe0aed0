"""Every way a durable run starts or continues: each one goes through one atomic claim.

``start_durable`` creates a claimed run and ``submit_run`` a queued one. ``resume_durable``,
``recover_runs`` and the worker (``acquire_next``) claim a stored run with a new fencing
epoch (refusing finished runs and runs another live process holds), then
``continue_claimed`` loads it and continues it from its last commit. ``fork_durable``
starts a new run from a checkpoint; ``adopt_snapshot`` continues a stored run from a
snapshot (through the same claim) or stores a new one.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from blazen._call import StepCall
from blazen._context_data import persistence
from blazen._ids import new_run_id
from blazen._meta import STEP_INPUT, STEP_RESUME, WAITING_STATE_KEY
from blazen._owners import new_owner
from blazen._runtime.durable import DurableHooks, waiting_value
from blazen._runtime.persist import restore_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunOptions, RunStatus
from blazen._tracing import observer_for
from blazen.draw import describe
from blazen.errors import StoreConflictError, StoreError, WorkflowError
from blazen.events import InputRequestEvent, InputResponseEvent, StartEvent
from blazen.snapshot import WorkflowSnapshot, decode_event, encode_event
from blazen.stores.base import (
    DEFAULT_LEASE,
    CheckpointStore,
    Commit,
    Lease,
    LoadedRun,
    PendingEvent,
)
from blazen.values import StateValue

__all__ = [
    "adopt_snapshot",
    "check_matches",
    "continue_claimed",
    "fork_durable",
    "recover_runs",
    "resume_durable",
    "start_durable",
    "submit_run",
]

log = logging.getLogger("blazen.recover")
_RECOVERABLE: tuple[RunStatus, ...] = ("queued", "running", "waiting", "paused")


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


def _start_pending(options: RunOptions, start: StartEvent, new_id: Any) -> list[PendingEvent]:
    """The deliveries of a run's ``StartEvent``, one per step that accepts it."""
    data = encode_event(start)
    return [
        PendingEvent(new_id(), start.event_type, data, None, spec.name)
        for spec in options.graph.routes[StartEvent.event_type]
    ]


async def start_durable(
    run: Run, store: CheckpointStore, start: StartEvent, lease: float = DEFAULT_LEASE
) -> None:
    """Write commit 0 of a new run, claimed by this process, then queue its deliveries."""
    hooks = DurableHooks(run, store, lease)
    pending = _start_pending(run.options, start, hooks.new_event_id)
    owner = new_owner()
    await store.create_run(
        run.run_id,
        run.options.name,
        owner=owner,
        context_state={},
        pending=pending,
        collected={},
        metadata=_metadata(run.options, **_traced(run)),
        lease=lease,
    )
    hooks.took(owner, 1)
    for pe in pending:
        assert pe.target_step is not None
        run.enqueue(pe.target_step, (start, None, pe.event_id))


async def submit_run(
    options: RunOptions, store: CheckpointStore, start: StartEvent, run_id: str
) -> None:
    """Store a queued run (no owner): a worker claims and runs it."""
    prefix = uuid.uuid4().hex[:8]
    ids = iter(range(1, 1 << 30))
    await store.create_run(
        run_id,
        options.name,
        owner=None,
        context_state={},
        pending=_start_pending(options, start, lambda: f"{prefix}-s{next(ids)}"),
        collected={},
        metadata=_metadata(options, submitted=True, **_submission_trace(options, run_id)),
        status="queued",
    )


def _submission_trace(options: RunOptions, run_id: str) -> dict[str, Any]:
    """A traced submission: a short span that the workers' spans of the run continue."""
    observer = observer_for(options.name, run_id)
    if observer is None:
        return {}
    carrier = observer.carrier()
    observer.run_ended("queued", None)
    return {"trace": carrier}


def check_matches(options: RunOptions, run_id: str, workflow_name: str, metadata: Any) -> None:
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


def _restore_loaded(run: Run, loaded: LoadedRun) -> list[PendingEvent]:
    """Load the stored state into ``run``; the posted answers (routed by the caller)."""
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
    posted = []
    for pe in loaded.pending:
        target = pe.target_step
        if target is None and pe.event_type == InputRequestEvent.event_type:
            request_id = pe.data.get("request_id") if isinstance(pe.data, dict) else None
            if isinstance(request_id, str):
                run.request_eids[request_id] = pe.event_id  # consumed when it is answered
            continue
        if target is None and pe.source_step == STEP_INPUT:
            posted.append(pe)
            continue
        if target is None or target not in run.specs:
            raise StoreConflictError(
                f"run {loaded.record.run_id}: pending {pe.event_type!r} event is for step "
                f"{target!r}, which this workflow does not have"
            )
        ev = decode_event(pe.event_type, pe.data, classes)
        run.enqueue(target, (ev, pe.source_step, pe.event_id))
    return posted


def _resume_commit(run: Run, hooks: DurableHooks, posted: list[PendingEvent]) -> Commit:
    """The ``<resume>`` commit: the answers posted to the run are routed with it."""
    call = StepCall(STEP_RESUME, durable=True)
    classes = run.options.graph.classes
    answered: list[str] = []  # the requests these answers close
    for pe in posted:
        hooks.delivered.add(pe.event_id)
        event = decode_event(pe.event_type, pe.data, classes)
        rid = getattr(event, "request_id", None)
        if isinstance(event, InputResponseEvent) and rid in run.waiting:
            del run.waiting[str(rid)]
            hooks.waiting_changed()
            run.route(event, None, call)
            asked = run.request_eids.pop(str(rid), None)
            if asked is not None:
                answered.append(asked)
    emitted = tuple(
        PendingEvent(eid, ev.event_type, encode_event(ev), None, target)
        for eid, ev, target in (call.emitted or ())
    )
    status: RunStatus = "waiting" if run.waiting else "running"
    return Commit(
        step=STEP_RESUME,
        consumed=(*(pe.event_id for pe in posted), *answered),
        emitted=emitted,
        writes=hooks.take_writes(),
        status=status,
    )


async def continue_claimed(
    options: RunOptions,
    store: CheckpointStore,
    lease: Lease,
    *,
    lease_length: float = DEFAULT_LEASE,
    follow: bool = True,
) -> Run:
    """Continue a run this process has just claimed, from its last commit.

    On any error the claim is released (the run is left as it was) and the error raised.
    """
    record = lease.record
    resumed = record.last_seq > 0  # a queued run starts here; anything else continues
    run = Run(options, lease.run_id, _trace_of(record.metadata), resumed=resumed)
    hooks = DurableHooks(run, store, lease_length, follow=follow)
    hooks.took(lease.owner, lease.epoch)
    try:
        record = lease.record
        check_matches(options, lease.run_id, record.workflow_name, record.metadata)
        loaded = await store.load(lease.run_id)
        posted = _restore_loaded(run, loaded)
        hooks.sync_shadow()
    except BaseException:
        await _give_back(hooks)
        raise
    hooks.committer.submit(_resume_commit(run, hooks, posted))
    if record.cancel_requested:
        hooks.cancel_requested()
    return run


async def _give_back(hooks: DurableHooks) -> None:
    """Release a claim we cannot use (best effort: it expires anyway)."""
    try:
        await hooks.hold.release()
    except StoreError as exc:
        log.warning("blazen: releasing run %s failed: %s", hooks.run.run_id, exc)


async def resume_durable(
    options: RunOptions, store: CheckpointStore, run_id: str, lease: float = DEFAULT_LEASE
) -> Run:
    """Claim a stored run (also a failed one) and continue it from its last commit."""
    record = await store.get_run(run_id)
    check_matches(options, run_id, record.workflow_name, record.metadata)
    claim = await store.acquire(run_id, new_owner(), lease=lease, failed=True)
    return await continue_claimed(options, store, claim, lease_length=lease)


async def recover_runs(
    options: RunOptions, store: CheckpointStore, lease: float = DEFAULT_LEASE
) -> list[Run]:
    """Claim and continue every unfinished run of the workflow that no live process holds.

    Runs that finish, or that another process claims, meanwhile are skipped; so are runs
    whose stored steps no longer match the workflow (logged).
    """
    run_ids: dict[str, None] = {}
    for status in _RECOVERABLE:
        for record in await store.list_runs(
            workflow_name=options.name, status=status, limit=1_000_000
        ):
            run_ids[record.run_id] = None
    runs = []
    for run_id in run_ids:
        try:
            claim = await store.acquire(run_id, new_owner(), lease=lease)
        except StoreConflictError:
            continue  # finished, or owned by a live process
        except StoreError:
            continue  # deleted meanwhile
        try:
            runs.append(await continue_claimed(options, store, claim, lease_length=lease))
        except StoreConflictError as exc:
            log.warning("blazen: recover skips run %s: %s", run_id, exc)
    return runs


async def fork_durable(
    options: RunOptions,
    store: CheckpointStore,
    run_id: str,
    seq: int | None,
    lease: float = DEFAULT_LEASE,
) -> Run:
    """A new run starting from ``run_id``'s state after commit ``seq``."""
    loaded = await store.load(run_id, seq)
    check_matches(options, run_id, loaded.record.workflow_name, loaded.record.metadata)
    posted = [p for p in loaded.pending if p.target_step is None and p.source_step == STEP_INPUT]
    if len(posted) == len(loaded.pending) and WAITING_STATE_KEY not in loaded.context_state:
        raise WorkflowError(
            f"run {run_id} has nothing left to run after commit {loaded.seq} (no pending "
            f"event, no awaited input): fork from an earlier commit"
        )
    run = Run(options, new_run_id())
    hooks = DurableHooks(run, store, lease)
    owner = new_owner()
    await store.create_run(
        run.run_id,
        options.name,
        owner=owner,
        context_state=loaded.context_state,
        pending=loaded.pending,
        collected=loaded.collected,
        metadata=_metadata(
            options, forked_from={"run_id": run_id, "seq": loaded.seq}, **_traced(run)
        ),
        status="waiting" if WAITING_STATE_KEY in loaded.context_state else "running",
        lease=lease,
    )
    hooks.took(owner, 1)
    posted = _restore_loaded(run, loaded)
    hooks.sync_shadow()
    if posted:
        hooks.committer.submit(_resume_commit(run, hooks, posted))
    return run


async def adopt_snapshot(
    run: Run, store: CheckpointStore, snapshot: WorkflowSnapshot, lease: float = DEFAULT_LEASE
) -> None:
    """Resume a snapshot on a durable workflow: the stored run continues (or is created).

    The stored run is claimed like any resume: a run that completed (or was cancelled),
    or that a live process holds, is refused; running it again would repeat its side
    effects and add a second ending to its history. No step starts before the claim (or the
    creation) and the commit rewriting the stored state have been made.
    """
    hooks = DurableHooks(run, store, lease)
    try:
        claim: Lease | None = await store.acquire(run.run_id, new_owner(), lease=lease, failed=True)
    except StoreConflictError as exc:
        raise StoreConflictError(
            f"the snapshot of run {run.run_id} cannot be resumed: {exc}"
        ) from exc
    except StoreError:
        claim = None  # not stored yet
    run.dispatching = False  # restoring queues the pending deliveries: hold them back
    try:
        if claim is not None:
            hooks.took(claim.owner, claim.epoch)
            loaded = await store.load(run.run_id)
        with persistence(run.ctx).recording_off():
            restore_run(run, snapshot)
        hooks.sync_shadow()
        status: RunStatus = "waiting" if run.waiting else "running"
        if claim is None:
            owner = new_owner()
            await store.create_run(
                run.run_id,
                run.options.name,
                owner=owner,
                context_state=_snapshot_writes(run),
                pending=_pending_of(run),
                collected=_collected_of(run),
                metadata=_metadata(run.options, resumed_from="snapshot", **_traced(run)),
                status=status,
                lease=lease,
            )
            hooks.took(owner, 1)
        else:  # the stored history continues: rewrite the whole state as one commit
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
    except BaseException:
        if claim is not None:
            await _give_back(hooks)
        raise
    run.unquiesce()


def _snapshot_writes(run: Run) -> dict[str, StateValue]:
    writes = persistence(run.ctx).export_state(copy=False)
    if run.waiting:
        writes[WAITING_STATE_KEY] = waiting_value(run)
    return writes


def _collected_of(run: Run) -> dict[str, list[Any]]:
    collected = persistence(run.ctx).export_collected()
    return {t: [encode_event(e) for e in evs] for t, evs in collected.items()}


def _pending_of(run: Run) -> tuple[PendingEvent, ...]:
    return tuple(
        PendingEvent(item[2] or "", item[0].event_type, encode_event(item[0]), item[1], name)
        for name, item in run.queued_items()
    )
