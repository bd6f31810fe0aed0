"""Runs to snapshots and back: pause, snapshot, abort and resume.

Snapshots keep the Rust core's layout. What that layout has no field for is kept in
``metadata`` under ``blazen.*`` keys: the step each pending delivery is queued for, and
the input requests the run waits on. Session entries pickled at pause are context
entries under ``__blazen_session__.``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from blazen._meta import ENGINE, ENGINE_KEY, TARGETS_KEY, WAITING_KEY
from blazen._runtime.run import Run
from blazen._runtime.types import Item
from blazen.context import Context
from blazen.errors import SnapshotError, WorkflowError
from blazen.events import Event, InputRequestEvent, StartEvent
from blazen.handler import WorkflowHandler
from blazen.session_policy import freeze_session, session_name, thaw_session
from blazen.snapshot import SerializedEvent, WorkflowSnapshot, decode_event, encode_event
from blazen.values import StateValue

if TYPE_CHECKING:
    from blazen.workflow import Workflow

__all__ = [
    "abort_run",
    "build_snapshot",
    "load_snapshot",
    "pause_run",
    "restore_run",
    "resume_snapshot",
    "take_snapshot",
]

_TARGETS = TARGETS_KEY
_WAITING = WAITING_KEY
_ENGINE_KEY = ENGINE_KEY


def load_snapshot(obj: Any) -> WorkflowSnapshot:
    """A ``WorkflowSnapshot`` from itself, its bytes or its JSON string."""
    return WorkflowSnapshot.load(obj)


def build_snapshot(run: Run, session: Mapping[str, StateValue] | None = None) -> WorkflowSnapshot:
    """The run's state now: context, collect buffers, pending deliveries, waiting input."""
    ctx = run.ctx
    state: dict[str, StateValue] = {
        k: Context._as_state_value(v, copy=True) for k, v in ctx._data.items()
    }
    state.update(session or {})
    items = run.queued_items()
    metadata: dict[str, Any] = {
        "run_id": run.run_id,
        "workflow_name": run.options.name,
        _ENGINE_KEY: ENGINE,
        _TARGETS: [target for target, _ in items],
        _WAITING: [
            {"request_id": rid, "source_step": src, "event": encode_event(ev)}
            for rid, (src, ev) in run.waiting.items()
        ],
    }
    return WorkflowSnapshot.new(
        workflow_name=run.options.name,
        run_id=run.run_id,
        context_state=state,
        collected_events={t: [encode_event(e) for e in evs] for t, evs in ctx._collected.items()},
        pending_events=[
            SerializedEvent(ev.event_type, encode_event(ev), src) for _, (ev, src, _) in items
        ],
        metadata=metadata,
    )


def _session_entries(run: Run) -> dict[str, StateValue]:
    """Apply the session pause policy; the session entries to put into the snapshot."""
    return freeze_session(run.ctx._session, run.options.session_pause_policy, run.run_id)


async def pause_run(run: Run) -> WorkflowSnapshot:
    """Stop dispatch, let running steps finish, then snapshot and halt the run.

    A second ``pause()`` while one is under way, or after it, gets the same snapshot.
    """
    if run.pausing is not None:
        return await asyncio.shield(run.pausing)
    if isinstance(run.paused_snapshot, WorkflowSnapshot):
        return run.paused_snapshot
    if run.finished:
        raise WorkflowError(f"run {run.run_id} is {run.status}; only a live run can pause")
    if run.options.session_pause_policy == "hard_error" and run.ctx._session:
        _session_entries(run)  # raises before anything stops
    outcome: asyncio.Future[WorkflowSnapshot] = run.loop.create_future()
    run.pausing = outcome
    try:
        snapshot = await _pause(run)
    except BaseException as exc:
        outcome.set_exception(exc)
        outcome.exception()  # retrieved here: the caller gets it raised
        raise
    else:
        outcome.set_result(snapshot)
        return snapshot
    finally:
        run.pausing = None


async def _pause(run: Run) -> WorkflowSnapshot:
    run.status = "pausing"
    await run.quiesce()
    if run.finished:
        raise WorkflowError(f"run {run.run_id} ended ({run.status}) while pausing")
    try:
        snapshot = build_snapshot(run, _session_entries(run))
    except BaseException:
        run.status = "running"  # the pause is refused: the run goes on as if never asked
        run.unquiesce()
        raise
    if run.hooks is not None:
        await run.hooks.halted("paused")
    run.halt("paused", WorkflowError(f"run {run.run_id} was paused; resume it from its snapshot"))
    run.paused_snapshot = snapshot
    return snapshot


def take_snapshot(run: Run) -> WorkflowSnapshot:
    """``handler.snapshot()``: the run as it is now, session values under the pause policy."""
    if run.finished:
        raise WorkflowError(
            f"run {run.run_id} is {run.status}: there is nothing left to snapshot"
            + (" (use the snapshot that pause() returned)" if run.status == "paused" else "")
        )
    return build_snapshot(run, _session_entries(run))


async def abort_run(run: Run) -> None:
    """Cancel the run; its result raises ``WorkflowError``."""
    run.halt("cancelled", WorkflowError(f"run {run.run_id} was aborted"))
    if run.hooks is not None:
        await run.hooks.halted("cancelled")


def restore_run(run: Run, snapshot: WorkflowSnapshot) -> None:
    """Load a snapshot's context, buffers, pending deliveries and waits into a new run."""
    classes = run.options.graph.classes
    ctx = run.ctx
    for key, sv in snapshot.context_state.items():
        name = session_name(key)
        if name is not None:
            ctx._session[name] = thaw_session(key, sv)
        else:
            ctx.set_value(key, sv)
    meta = snapshot.metadata if isinstance(snapshot.metadata, dict) else {}
    foreign = meta.get(_ENGINE_KEY) != ENGINE
    if foreign and not snapshot.pending_events and not meta.get(_WAITING):
        _replay_foreign(run, snapshot, classes)
        return
    for etype, datas in snapshot.collected_events.items():
        ctx._collected[etype] = [decode_event(etype, d, classes) for d in datas]
    for waited in meta.get(_WAITING) or []:
        ev = decode_event(InputRequestEvent.event_type, waited["event"], classes)
        run.waiting[str(waited["request_id"])] = (waited.get("source_step"), ev)  # type: ignore[assignment]
    targets = meta.get(_TARGETS)
    if not isinstance(targets, list) or len(targets) != len(snapshot.pending_events):
        targets = [None] * len(snapshot.pending_events)
    for target, se in zip(targets, snapshot.pending_events, strict=True):
        _requeue(run, decode_event(se.event_type, se.data, classes), se.source_step, target)


def _requeue(run: Run, ev: Event, source: str | None, target: Any) -> None:
    spec = run.specs.get(target) if isinstance(target, str) else None
    if spec is not None and ev.event_type in spec.accepts:
        item: Item = (ev, source, run.hooks.new_event_id() if run.hooks else None)
        run.enqueue(spec.name, item)
    else:
        run.route(ev, source)


def _replay_foreign(
    run: Run, snapshot: WorkflowSnapshot, classes: Mapping[str, type[Event]]
) -> None:
    """A Rust-core snapshot lists in-flight events only under ``collected_events``.

    With no pending events recorded, every collected event other than the StartEvent is
    delivered again, in order (see docs/durability.md, "Snapshots from the Rust engine").
    """
    for etype, datas in snapshot.collected_events.items():
        if etype == StartEvent.event_type:
            continue
        for data in datas:
            run.route(decode_event(etype, data, classes), None)


async def resume_snapshot(wf: Workflow, snapshot: WorkflowSnapshot) -> WorkflowHandler:
    """Continue a paused run: same run id, context and pending events."""
    run = wf._new_run(snapshot.run_id)
    try:
        if wf.store is not None:
            from blazen._runtime.durable import adopt_snapshot

            await adopt_snapshot(wf, run, snapshot)
        else:
            restore_run(run, snapshot)
    except WorkflowError:
        raise
    except Exception as exc:  # malformed data that loaded but cannot be used
        raise SnapshotError(
            f"snapshot of run {snapshot.run_id} cannot be resumed: {type(exc).__name__}: {exc}"
        ) from exc
    run.start()
    return WorkflowHandler(run)
