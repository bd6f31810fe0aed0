"""Small builders shared by the store tests."""

from __future__ import annotations

from typing import Any

from blazen.stores.base import CheckpointStore, PendingEvent
from blazen.values import StateValue

J = StateValue.Json
B = StateValue.Bytes
N = StateValue.Native


def ev(event_id: str, event_type: str = "T", data: Any = None, **kw: Any) -> PendingEvent:
    """A pending event with some default data."""
    return PendingEvent(event_id, event_type, {"id": event_id} if data is None else data, **kw)


async def new_run(
    store: CheckpointStore,
    run_id: str = "r1",
    *,
    workflow_name: str = "wf",
    owner: str = "me",
    state: dict[str, StateValue] | None = None,
    pending: list[PendingEvent] | None = None,
    collected: dict[str, list[Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    **kw: Any,
) -> None:
    """``create_run`` with defaults: one pending start event, empty state."""
    await store.create_run(
        run_id,
        workflow_name,
        owner=owner,
        context_state=state if state is not None else {},
        pending=pending if pending is not None else [ev("start", "Start")],
        collected=collected if collected is not None else {},
        metadata=metadata if metadata is not None else {},
        **kw,
    )
