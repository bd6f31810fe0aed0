"""What the pages show, read from any ``CheckpointStore`` through its protocol methods only.

``run_list`` pages through ``list_runs``; ``run_detail`` gathers one run's record, commit
history, events and the state at one commit (and the commit before, for the changes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from blazen._meta import WAITING_STATE_KEY
from blazen.errors import StoreError
from blazen.stores.base import (
    FINISHED,
    CheckpointInfo,
    CheckpointStore,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
)
from blazen.ui._values import Change, ValueView, diff_states, event_data_text, value_view
from blazen.values import StateValue

__all__ = [
    "STATUSES",
    "ContextRow",
    "InputRequest",
    "NotFound",
    "RunDetail",
    "RunPage",
    "RunRow",
    "run_detail",
    "run_list",
]

STATUSES: tuple[str, ...] = (
    "queued",
    "running",
    "waiting",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
_RESERVED = "__blazen"  # prefix of the context keys the engine writes beside user data
_MAX_ID = 200
_SCAN_LIMIT = 10_000  # runs read to list the workflow names of the filter


class NotFound(StoreError):
    """The run id or commit asked for is not in the store (shown as a 404 page)."""


@dataclass(frozen=True, slots=True)
class RunRow:
    """One line of the runs list."""

    run_id: str
    workflow: str
    status: str
    created_at: float
    updated_at: float
    duration: float
    last_seq: int
    last_step: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """The row for the list's JSON endpoint (live refresh): its fields, by name."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of the runs list and what its filters can offer."""

    rows: list[RunRow]
    page: int
    has_more: bool
    workflows: list[str]


@dataclass(frozen=True, slots=True)
class ContextRow:
    """One context key at the selected commit, with how it changed since the commit before."""

    key: str
    change: Change
    view: ValueView | None  # None for a removed key


@dataclass(frozen=True, slots=True)
class InputRequest:
    """An input request the run waits on."""

    request_id: str
    prompt: str
    source_step: str | None
    metadata_text: str


@dataclass(frozen=True, slots=True)
class PendingView:
    """An event not handled yet at the selected commit."""

    event_id: str
    event_type: str
    source_step: str | None
    target_step: str | None
    data_text: str


@dataclass
class RunDetail:
    """Everything the run page shows."""

    record: RunRecord
    checkpoints: list[CheckpointInfo]
    events: list[tuple[int, PendingEvent, int | None]]
    seq: int
    context: list[ContextRow]
    pending: list[PendingView]
    waiting: list[InputRequest]
    result: ValueView | None
    graph: dict[str, Any] | None
    executed: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether the run has ended (completed, failed or cancelled)."""
        return self.record.status in FINISHED


def check_run_id(run_id: str) -> None:
    """A run id from a URL: non-empty, short, printable; ``NotFound`` otherwise."""
    if not run_id or len(run_id) > _MAX_ID or not run_id.isprintable():
        raise NotFound(f"{run_id[:_MAX_ID]!r} is not a run id")


async def get_record(store: CheckpointStore, run_id: str) -> RunRecord:
    """The run's record; ``NotFound`` when the store does not hold it."""
    check_run_id(run_id)
    try:
        return await store.get_run(run_id)
    except NotFound:
        raise
    except StoreError as exc:
        if str(exc).startswith("unknown run id"):
            raise NotFound(f"there is no run {run_id!r} in this store") from exc
        raise


def duration(record: RunRecord, now: float | None = None) -> float:
    """Seconds from creation to the last update (to now while the run is unfinished)."""
    end = record.updated_at if record.status in FINISHED else (now or time.time())
    return max(0.0, end - record.created_at)


async def run_list(
    store: CheckpointStore,
    *,
    workflow: str | None,
    status: str | None,
    page: int,
    size: int,
) -> RunPage:
    """Runs ``page * size`` to ``(page + 1) * size`` of the filtered list, newest first."""
    want = (page + 1) * size + 1
    records = await store.list_runs(
        workflow_name=workflow or None, status=cast("RunStatus | None", status), limit=want
    )
    chosen = records[page * size : (page + 1) * size]
    steps = await asyncio.gather(*(_last_step(store, r) for r in chosen))
    now = time.time()
    rows = [
        RunRow(
            r.run_id,
            r.workflow_name,
            r.status,
            r.created_at,
            r.updated_at,
            duration(r, now),
            r.last_seq,
            last,
            r.error,
        )
        for r, last in zip(chosen, steps, strict=True)
    ]
    names = sorted({r.workflow_name for r in await store.list_runs(limit=_SCAN_LIMIT)})
    return RunPage(rows, page, len(records) > (page + 1) * size, names)


async def _last_step(store: CheckpointStore, record: RunRecord) -> str:
    """The last step that committed (engine markers like ``<end>`` only when no step did)."""
    try:
        history = await store.checkpoints(record.run_id)
    except StoreError:
        return "?"  # deleted meanwhile
    for c in reversed(history):
        if not c.step.startswith("<"):
            return c.step
    return history[-1].step if history else ""


async def run_detail(store: CheckpointStore, run_id: str, seq: int | None) -> RunDetail:
    """The run page's data: history, events, and the state at commit ``seq`` (default: last)."""
    record = await get_record(store, run_id)
    at = record.last_seq if seq is None else seq
    if not 0 <= at <= record.last_seq:
        raise NotFound(f"run {run_id} has no commit {seq} (its commits are 0 to {record.last_seq})")
    checkpoints = await store.checkpoints(run_id)
    events = await store.events(run_id)
    loaded = await store.load(run_id, at)
    previous = await store.load(run_id, at - 1) if at > 0 else None
    last = loaded if at == record.last_seq else await store.load(run_id)
    executed: dict[str, int] = {}
    for c in checkpoints:
        if not c.step.startswith("<"):
            executed[c.step] = executed.get(c.step, 0) + 1
    return RunDetail(
        record=record,
        checkpoints=checkpoints,
        events=events,
        seq=at,
        context=_context_rows(previous, loaded),
        pending=[_pending_view(p) for p in loaded.pending],
        waiting=[] if record.status in FINISHED else waiting_requests(last.context_state),
        result=value_view(last.result) if last.result is not None else None,
        graph=graph_of(record.metadata),
        executed=executed,
    )


def _context_rows(previous: LoadedRun | None, loaded: LoadedRun) -> list[ContextRow]:
    cur = _user_state(loaded.context_state)
    before = _user_state(previous.context_state) if previous is not None else None
    changes = diff_states(before, cur)
    rows = []
    for key in sorted(changes):
        sv = cur.get(key)
        rows.append(ContextRow(key, changes[key], value_view(sv) if sv is not None else None))
    return rows


def _user_state(state: Mapping[str, StateValue]) -> dict[str, StateValue]:
    return {k: v for k, v in state.items() if not k.startswith(_RESERVED)}


def _pending_view(p: PendingEvent) -> PendingView:
    return PendingView(
        p.event_id,
        p.event_type,
        p.source_step,
        p.target_step,
        event_data_text(p.event_type, p.data),
    )


def waiting_requests(state: Mapping[str, StateValue]) -> list[InputRequest]:
    """The input requests a stored run waits on (kept under a reserved context key)."""
    sv = state.get(WAITING_STATE_KEY)
    if not isinstance(sv, StateValue.Json) or not isinstance(sv.value, dict):
        return []
    out = []
    for request_id, entry in sv.value.items():
        fields: dict[str, Any] = entry if isinstance(entry, dict) else {}
        event: dict[str, Any] = fields.get("event") or {}
        if not isinstance(event, dict):
            event = {}
        source = fields.get("source_step")
        out.append(
            InputRequest(
                str(request_id),
                str(event.get("prompt", "")),
                source if isinstance(source, str) else None,
                event_data_text("", event.get("metadata") or {}),
            )
        )
    return out


def graph_of(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The graph description stored with the run, else one rebuilt from its step list."""
    desc = metadata.get("graph") if isinstance(metadata, Mapping) else None
    if _valid_graph(desc):
        return cast("dict[str, Any]", desc)
    steps = metadata.get("steps") if isinstance(metadata, Mapping) else None
    if isinstance(steps, dict) and all(isinstance(v, list) for v in steps.values()):
        return _graph_from_fingerprint(steps)
    return None


def _valid_graph(desc: Any) -> bool:
    if not isinstance(desc, dict):
        return False
    parts = (desc.get("steps"), desc.get("events"), desc.get("edges"))
    if not all(isinstance(p, list) for p in parts):
        return False
    steps, events, edges = cast("tuple[list[Any], list[Any], list[Any]]", parts)
    return (
        all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in steps)
        and all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in events)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("source"), str)
            and isinstance(e.get("target"), str)
            for e in edges
        )
    )


def _graph_from_fingerprint(steps: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Older runs store only step -> accepted types: draw those edges (emits unknown)."""
    types: dict[str, None] = {}
    edges = []
    for name, accepts in steps.items():
        for etype in accepts:
            types[str(etype)] = None
            edges.append({"source": f"event:{etype}", "target": f"step:{name}", "kind": "accepts"})
    return {
        "version": 0,
        "workflow": None,
        "steps": [
            {"name": n, "accepts": [str(a) for a in acc], "emits": None, "options": {}}
            for n, acc in steps.items()
        ],
        "events": [
            {"name": t, "label": t.removeprefix("blazen::"), "kind": _kind(t)} for t in types
        ],
        "edges": edges,
    }


def _kind(event_type: str) -> str:
    return {
        "blazen::StartEvent": "start",
        "blazen::StopEvent": "stop",
        "blazen::InputRequestEvent": "input_request",
        "blazen::InputResponseEvent": "input_response",
    }.get(event_type, "event")
