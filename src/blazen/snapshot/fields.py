"""The parts a ``WorkflowSnapshot`` holds, readable in blazen's and the Rust core's spelling.

blazen reads a snapshot's parts as attributes (``snap.context_state["k"]``,
``snap.pending_events[0].event_type``); the Rust-core package calls methods of the same
names (``snap.context_state()``, ``snap.pending_events()`` giving a list of dicts). Each
container below is the live ``dict`` or ``list`` for the first spelling and, when called,
returns a fresh copy of what the Rust-core method returns for the same snapshot: its JSON
view, where bytes inside event data and metadata read ``{"$blazen": {"Bytes": [..]}}``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from blazen.errors import SnapshotError
from blazen.snapshot import _wire
from blazen.values import StateValue

__all__ = [
    "CollectedEvents",
    "ContextState",
    "PendingEvents",
    "SerializedEvent",
    "SnapshotMetadata",
    "as_collected_events",
    "as_context_state",
    "as_metadata",
    "as_pending_events",
]


@dataclass
class SerializedEvent:
    """An event waiting to be routed: its type name, encoded field map and emitting step.

    ``data`` is what :func:`blazen.snapshot.encode_event` returns for the event.
    """

    event_type: str
    data: Any
    source_step: str | None = None


class ContextState(dict[str, StateValue]):
    """Context key -> ``StateValue``; calling it gives a new plain dict, as the Rust core does."""

    __slots__ = ()

    def __call__(self) -> dict[str, StateValue]:
        return dict(self)


class CollectedEvents(dict[str, list[Any]]):
    """Event type -> encoded data of the buffered events; calling it gives the JSON view."""

    __slots__ = ()

    def __call__(self) -> dict[str, list[Any]]:
        return {
            t: [copy.deepcopy(_wire.event_data_to_json(t, d)) for d in datas]
            for t, datas in self.items()
        }


class PendingEvents(list[SerializedEvent]):
    """Events emitted but not handled; calling it gives the Rust core's list of dicts."""

    __slots__ = ()

    def __call__(self) -> list[dict[str, Any]]:
        return [
            {
                "event_type": ev.event_type,
                "data": copy.deepcopy(_wire.event_data_to_json(ev.event_type, ev.data)),
                "source_step": ev.source_step,
            }
            for ev in self
        ]


class SnapshotMetadata(dict[str, Any]):
    """Free-form metadata (``run_id``, ``workflow_name``, ...); calling it gives the JSON view."""

    __slots__ = ()

    def __call__(self) -> dict[str, Any]:
        view: dict[str, Any] = _wire.plain_to_json(dict(self))  # new containers all the way
        return view


_M = TypeVar("_M", ContextState, CollectedEvents, SnapshotMetadata)


def _as_map(cls: type[_M], value: Any, name: str) -> _M:
    if type(value) is cls:
        return value
    if value is None:
        return cls()
    if isinstance(value, Mapping):
        return cls(value)
    raise SnapshotError(f"snapshot {name!r} must be a mapping, not {type(value).__name__}")


def as_context_state(value: Mapping[str, StateValue] | None) -> ContextState:
    """``value`` as the ``context_state`` container (itself when it already is one)."""
    return _as_map(ContextState, value, "context_state")


def as_collected_events(value: Mapping[str, list[Any]] | None) -> CollectedEvents:
    """``value`` as the ``collected_events`` container (itself when it already is one)."""
    return _as_map(CollectedEvents, value, "collected_events")


def as_metadata(value: Mapping[str, Any] | None) -> SnapshotMetadata:
    """``value`` as the ``metadata`` container (itself when it already is one)."""
    return _as_map(SnapshotMetadata, value, "metadata")


def as_pending_events(value: Iterable[SerializedEvent] | None) -> PendingEvents:
    """``value`` as the ``pending_events`` container (itself when it already is one)."""
    if type(value) is PendingEvents:
        return value
    if value is None:
        return PendingEvents()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise SnapshotError(
            f"snapshot 'pending_events' must be a list of SerializedEvent, "
            f"not {type(value).__name__}"
        )
    return PendingEvents(value)
