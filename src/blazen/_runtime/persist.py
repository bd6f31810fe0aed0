"""Runs to snapshots and back: pause, continue in place, snapshot, abort and restore.

Snapshots keep the Rust core's layout. What that layout has no field for is kept in
``metadata`` under ``blazen.*`` keys: the step each pending delivery is queued for, and
the input requests the run waits on. Session entries pickled at pause are context
entries under ``__blazen_session__.``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from blazen._context_data import persistence
from blazen._meta import ENGINE, ENGINE_KEY, TARGETS_KEY, TRACE_KEY, WAITING_KEY
from blazen._runtime.run import Run
from blazen._runtime.types import Item
from blazen.errors import PauseError, RunAbortedError
from blazen.events import Event, InputRequestEvent, StartEvent
from blazen.session_policy import SessionPausePolicy, freeze_session, session_name, thaw_session
from blazen.session_refs import SERIALIZED_REFS_KEY
from blazen.snapshot import SerializedEvent, WorkflowSnapshot, decode_event, encode_event
from blazen.values import StateValue

__all__ = [
    "abort_run",
    "build_snapshot",
    "pause_run",
    "restore_run",
    "resume_in_place",
    "take_snapshot",
]


def build_snapshot(
    run: Run, session: Mapping[str, StateValue] | None = None, ending: Event | None = None
) -> WorkflowSnapshot:
    """The run's state now: context, collect buffers, pending deliveries, waiting input.

    ``ending``: the ``StopEvent`` of a completed run, kept as its only pending event, so
    that resuming the snapshot ends at once with the same result.
    """
    view = persistence(run.ctx)
    state = view.export_state(copy=True)
    state.update(session or {})
    items: list[tuple[str | None, Item]] = list(run.queued_items())
    if ending is not None:
        items = [(None, (ending, None, None))]
    metadata: dict[str, Any] = {
        "run_id": run.run_id,
        "workflow_name": run.options.name,
        ENGINE_KEY: ENGINE,
        TARGETS_KEY: [target for target, _ in items],
        WAITING_KEY: [
            {"request_id": rid, "source_step": src, "event": encode_event(ev)}
            for rid, (src, ev) in run.waiting.items()
        ],
    }
    if run.observer is not None:
        metadata[TRACE_KEY] = run.observer.carrier()
    if run.options.session_pause_policy == SessionPausePolicy.PickleOrSerialize:
        metadata[SERIALIZED_REFS_KEY] = run.session_refs.snapshot_refs()[0]
    collected = view.export_collected()
    return WorkflowSnapshot.new(
        workflow_name=run.options.name,
        run_id=run.run_id,
        context_state=state,
        collected_events={t: [encode_event(e) for e in evs] for t, evs in collected.items()},
        pending_events=[
            SerializedEvent(ev.event_type, encode_event(ev), src) for _, (ev, src, _) in items
        ],
        metadata=metadata,
    )


def _session_entries(run: Run) -> dict[str, StateValue]:
    """Apply the session pause policy; the session entries to put into the snapshot."""
    return freeze_session(
        persistence(run.ctx).session, run.options.session_pause_policy, run.run_id
    )


async def pause_run(run: Run) -> WorkflowSnapshot | None:
    """Stop dispatch, let running steps finish, snapshot the run and keep it parked.

    A second ``pause()`` while one is under way, or after it, gets the same snapshot.
    ``None`` means the run ended while its running steps finished: its outcome is
    available from ``result()``.
    """
    if run.pausing is not None:
        paused: WorkflowSnapshot | None = await asyncio.shield(run.pausing)
        return paused
    if run.status == "paused":
        return run.paused_snapshot  # type: ignore[no-any-return]
    if run.status == "completed":
        return None  # nothing left to pause; the result is available
    if run.finished:
        raise PauseError(f"run {run.run_id} is {run.status}; only a live run can pause")
    hard = run.options.session_pause_policy == SessionPausePolicy.HardError
    if hard and persistence(run.ctx).session:
        _session_entries(run)  # raises before anything stops
    outcome: asyncio.Future[WorkflowSnapshot | None] = run.loop.create_future()
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


async def _pause(run: Run) -> WorkflowSnapshot | None:
    await run.quiesce()
    if run.finished:
        return None
    try:
        snapshot = build_snapshot(run, _session_entries(run))
    except BaseException:
        run.unquiesce()  # the pause is refused: the run goes on as if never asked
        raise
    run.park()
    run.paused_snapshot = snapshot
    if run.hooks is not None:
        await run.hooks.halted("paused")
    return snapshot


async def resume_in_place(run: Run) -> None:
    """Continue a run paused by ``pause()`` in this process.

    A run that completed while the pause waited for its running steps has nothing left
    to continue: this returns at once and ``result()`` gives its result.
    """
    if run.status == "completed":
        return
    if run.status != "paused":
        raise PauseError(f"run {run.run_id} is {run.status}; only a paused run can resume in place")
    if run.hooks is not None:
        await run.hooks.resumed()
    run.unpark()


def take_snapshot(run: Run) -> WorkflowSnapshot:
    """``handler.snapshot()``: the run as it is now, session values under the pause policy."""
    if run.status == "paused" and isinstance(run.paused_snapshot, WorkflowSnapshot):
        return run.paused_snapshot
    if run.status == "completed" and run.result_event is not None:
        return build_snapshot(run, _session_entries(run), ending=run.result_event)
    if run.finished:
        raise PauseError(f"run {run.run_id} is {run.status}: there is nothing left to snapshot")
    return build_snapshot(run, _session_entries(run))


async def abort_run(run: Run) -> None:
    """Cancel the run; its ``result()`` raises ``RunAbortedError``."""
    if run.finished:
        return
    run.halt("cancelled", RunAbortedError(f"run {run.run_id} was aborted"))
    if run.hooks is not None:
        await run.hooks.halted("cancelled")


def restore_run(run: Run, snapshot: WorkflowSnapshot) -> None:
    """Load a snapshot's context, buffers, pending deliveries and waits into a new run."""
    classes = run.options.graph.classes
    view = persistence(run.ctx)
    state: dict[str, StateValue] = {}
    for key, sv in snapshot.context_state.items():
        name = session_name(key)
        if name is not None:
            view.session[name] = thaw_session(key, sv)
        else:
            state[key] = sv
    view.restore_state(state)
    meta = snapshot.metadata if isinstance(snapshot.metadata, dict) else {}
    foreign = meta.get(ENGINE_KEY) != ENGINE
    if foreign and not snapshot.pending_events and not meta.get(WAITING_KEY):
        _replay_foreign(run, snapshot, classes)
        return
    view.restore_collected(
        {
            etype: [decode_event(etype, d, classes) for d in datas]
            for etype, datas in snapshot.collected_events.items()
        }
    )
    for waited in meta.get(WAITING_KEY) or []:
        ev = decode_event(InputRequestEvent.event_type, waited["event"], classes)
        run.waiting[str(waited["request_id"])] = (waited.get("source_step"), ev)  # type: ignore[assignment]
    targets = meta.get(TARGETS_KEY)
    if not isinstance(targets, list) or len(targets) != len(snapshot.pending_events):
        targets = [None] * len(snapshot.pending_events)
    for target, se in zip(targets, snapshot.pending_events, strict=True):
        _requeue(run, decode_event(se.event_type, se.data, classes), se.source_step, target)


def _requeue(run: Run, ev: Event, source: str | None, target: Any) -> None:
    """Queue ``ev`` for its recorded target step when that step accepts it, else route it."""
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
