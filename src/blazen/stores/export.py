"""A stored run (at its last or any commit) as a ``WorkflowSnapshot`` file."""

from __future__ import annotations

from typing import Any

from blazen._meta import ENGINE, ENGINE_KEY, TARGETS_KEY, WAITING_KEY, WAITING_STATE_KEY
from blazen.snapshot import SerializedEvent, WorkflowSnapshot
from blazen.stores.base import CheckpointStore
from blazen.values import StateValue

__all__ = ["export_run"]


async def export_run(
    store: CheckpointStore, run_id: str, seq: int | None = None
) -> WorkflowSnapshot:
    """The run's state after commit ``seq`` (default: the last), ready for ``Workflow.resume``."""
    loaded = await store.load(run_id, seq)
    state = dict(loaded.context_state)
    waiting_sv = state.pop(WAITING_STATE_KEY, None)
    waiting: list[dict[str, Any]] = []
    if isinstance(waiting_sv, StateValue.Json) and isinstance(waiting_sv.value, dict):
        waiting = [
            {"request_id": rid, "source_step": e.get("source_step"), "event": e.get("event")}
            for rid, e in waiting_sv.value.items()
        ]
    return WorkflowSnapshot.new(
        workflow_name=loaded.record.workflow_name,
        run_id=loaded.record.run_id,
        context_state=state,
        collected_events=dict(loaded.collected),
        pending_events=[
            SerializedEvent(p.event_type, p.data, p.source_step) for p in loaded.pending
        ],
        metadata={
            ENGINE_KEY: ENGINE,
            TARGETS_KEY: [p.target_step for p in loaded.pending],
            WAITING_KEY: waiting,
            "seq": loaded.seq,
        },
    )
