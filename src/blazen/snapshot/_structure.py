"""The snapshot's top-level structure, checked the same way when it is read and written.

Readers call :func:`build` on the plain data that msgpack or json decoded; writers call
:func:`check_for_write` first, so blazen never writes what it would refuse to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from blazen.errors import SnapshotError
from blazen.snapshot import _wire
from blazen.snapshot.fields import (
    CollectedEvents,
    ContextState,
    PendingEvents,
    SerializedEvent,
    SnapshotMetadata,
)
from blazen.values import StateValue

__all__ = [
    "SNAPSHOT_VERSION",
    "TAGGED_METADATA_KEY",
    "Checked",
    "Parts",
    "SnapshotFields",
    "build",
    "check_for_write",
]

SNAPSHOT_VERSION = 1
"""The snapshot format version this blazen writes; it reads this one and every older one."""

TAGGED_METADATA_KEY = "blazen.tagged_metadata"
"""Set (to ``true``) in MessagePack metadata written with JSON tags instead of ``bin``."""

Checked = tuple[dict[str, list[Any]], list[dict[str, Any]], dict[str, Any]]
"""Canonical copies of ``collected_events``, ``pending_events`` (as maps) and ``metadata``."""


class Parts(NamedTuple):
    """The eight fields of a snapshot, as a reader found them (in the writing order)."""

    version: int
    workflow_name: str
    run_id: str
    timestamp: str
    context_state: ContextState
    collected_events: CollectedEvents
    pending_events: PendingEvents
    metadata: SnapshotMetadata


class SnapshotFields(Protocol):
    """What a writer reads from a snapshot: its eight fields."""

    @property
    def version(self) -> int: ...
    @property
    def workflow_name(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def timestamp(self) -> str: ...
    @property
    def context_state(self) -> Mapping[str, StateValue]: ...
    @property
    def collected_events(self) -> Mapping[str, list[Any]]: ...
    @property
    def pending_events(self) -> Sequence[SerializedEvent]: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...


_MISSING: Any = object()


def build(obj: Any, from_json: bool) -> Parts:
    """Check decoded plain data field by field and return the snapshot's parts."""
    if type(obj) is not dict:
        raise SnapshotError(f"a snapshot is a map, not {_wire.kind(obj)}")
    version = _version(obj)
    name, timestamp = (_required_str(obj, f) for f in ("workflow_name", "timestamp"))
    run_id = obj.get("run_id", _MISSING)
    if run_id is _MISSING:
        raise SnapshotError("snapshot has no 'run_id' field")
    run_id = _required_str(obj, "run_id") if from_json else _wire.run_id_from_msgpack(run_id)
    state_map = obj.get("context_state", _MISSING)
    if state_map is _MISSING:
        raise SnapshotError("snapshot has no 'context_state' field")
    _check_map(state_map, "context_state")
    state = ContextState(
        (k, _wire.state_value(v, f"context_state[{k!r}]", from_json)) for k, v in state_map.items()
    )
    collected = CollectedEvents(_collected(obj.get("collected_events", {}), from_json))
    pending = PendingEvents(
        SerializedEvent(**ev) for ev in _pending(obj.get("pending_events", []), from_json)
    )
    metadata = SnapshotMetadata(_metadata(obj.get("metadata", {}), from_json))
    return Parts(version, name, run_id, timestamp, state, collected, pending, metadata)


def _version(obj: dict[str, Any]) -> int:
    version = obj.get("version", _MISSING)
    if version is _MISSING:
        raise SnapshotError("snapshot has no 'version' field")
    if type(version) is not int:
        raise SnapshotError(f"snapshot 'version' must be an integer, not {_wire.kind(version)}")
    if version > SNAPSHOT_VERSION:
        raise SnapshotError(
            f"snapshot format version {version} is newer than this blazen supports "
            f"({SNAPSHOT_VERSION})"
        )
    if version < 1:
        raise SnapshotError(f"invalid snapshot format version {version}")
    return version


def _required_str(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        raise SnapshotError(f"snapshot has no {name!r} field")
    if type(value) is not str:
        raise SnapshotError(f"snapshot {name!r} must be a string, not {_wire.kind(value)}")
    return value


def _check_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise SnapshotError(f"{path} must be a map, not {_wire.kind(value)}")
    for k in value:
        if type(k) is not str:
            raise SnapshotError(f"{path}: key {k!r} is not a string")


def _collected(value: Any, from_json: bool) -> dict[str, list[Any]]:
    _check_map(value, "collected_events")
    out: dict[str, list[Any]] = {}
    for event_type, events in value.items():
        path = f"collected_events[{event_type!r}]"
        if type(events) is not list:
            raise SnapshotError(f"{path} must be an array, not {_wire.kind(events)}")
        out[event_type] = [
            _wire.event_data(event_type, d, f"{path}[{i}]", from_json) for i, d in enumerate(events)
        ]
    return out


def _pending(value: Any, from_json: bool) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise SnapshotError(f"pending_events must be an array, not {_wire.kind(value)}")
    out = []
    for i, ev in enumerate(value):
        path = f"pending_events[{i}]"
        _check_map(ev, path)
        event_type, source = ev.get("event_type"), ev.get("source_step")
        if type(event_type) is not str or not event_type:
            raise SnapshotError(f"{path}.event_type must be a non-empty string")
        if source is not None and type(source) is not str:
            raise SnapshotError(f"{path}.source_step must be a string or nil/null")
        if "data" not in ev:
            raise SnapshotError(f"{path} has no 'data' field")
        data = _wire.event_data(event_type, ev["data"], f"{path}.data", from_json)
        out.append({"event_type": event_type, "data": data, "source_step": source})
    return out


def _metadata(value: Any, from_json: bool) -> dict[str, Any]:
    _check_map(value, "metadata")
    tagged = value.get(TAGGED_METADATA_KEY, False)
    if type(tagged) is not bool:
        raise SnapshotError(f"metadata.{TAGGED_METADATA_KEY} must be a boolean")
    return {
        k: _wire.plain(v, f"metadata.{k}", from_json or tagged)
        for k, v in value.items()
        if k != TAGGED_METADATA_KEY
    }


def check_for_write(snap: SnapshotFields) -> Checked:
    """Check a snapshot about to be written exactly as a reader would; canonical copies."""
    if type(snap.version) is not int or snap.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"this blazen writes snapshot format version {SNAPSHOT_VERSION} only")
    for name in ("workflow_name", "run_id", "timestamp"):
        if type(getattr(snap, name)) is not str:
            raise SnapshotError(f"snapshot {name!r} must be a str")
    _check_map(snap.context_state, "context_state")
    for k, v in snap.context_state.items():
        if not isinstance(v, StateValue):
            raise SnapshotError(f"context_state[{k!r}] is not a StateValue")
    pending = []
    for ev in snap.pending_events:
        if not isinstance(ev, SerializedEvent):
            raise SnapshotError(f"pending_events holds a {type(ev).__name__}, not SerializedEvent")
        pending.append(
            {"event_type": ev.event_type, "data": ev.data, "source_step": ev.source_step}
        )
    collected = _collected(snap.collected_events, from_json=False)
    _check_map(snap.metadata, "metadata")
    if TAGGED_METADATA_KEY in snap.metadata:
        raise SnapshotError(f"metadata key {TAGGED_METADATA_KEY!r} is reserved for the format")
    metadata = _metadata(snap.metadata, from_json=False)
    return collected, _pending(pending, from_json=False), metadata
