"""``WorkflowSnapshot``: the Rust core's snapshot fields, as a dataclass with its API.

The field names and their order are those of the Rust core's ``WorkflowSnapshot``, so a
snapshot moves between the two engines. ``context_state``, ``collected_events``,
``pending_events`` and ``metadata`` read both ways: as blazen's attributes
(``snap.context_state["k"]``) and as the Rust core's methods (``snap.context_state()``),
see ``fields``. Encoding lives in ``formats`` (MessagePack, JSON) and ``sign`` (HMAC).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from blazen.snapshot import formats
from blazen.snapshot._structure import SNAPSHOT_VERSION
from blazen.snapshot.fields import (
    CollectedEvents,
    ContextState,
    PendingEvents,
    SerializedEvent,
    SnapshotMetadata,
    as_collected_events,
    as_context_state,
    as_metadata,
    as_pending_events,
)
from blazen.snapshot.sign import Key
from blazen.values import StateValue

__all__ = ["SNAPSHOT_VERSION", "SerializedEvent", "WorkflowSnapshot", "utc_timestamp"]

_Get = TypeVar("_Get")
_Set = TypeVar("_Set")


def utc_timestamp(ns: int | None = None) -> str:
    """RFC 3339 UTC time with nanoseconds, like the Rust core: (``...T10:04:32.374158879Z``)."""
    secs, frac = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class _Part(Generic[_Get, _Set]):
    """A field that stores what is assigned to it as its callable container (see ``fields``)."""

    def __init__(self, convert: Callable[[_Set | None], _Get]) -> None:
        self._convert = convert
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> None: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _Get: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> _Get | None:
        if obj is None:
            return None  # the dataclass default: an empty container
        value: _Get = obj.__dict__[self._name]
        return value

    def __set__(self, obj: object, value: _Set | None) -> None:
        obj.__dict__[self._name] = self._convert(value)


@dataclass(repr=False)
class WorkflowSnapshot:
    """Everything needed to resume a run.

    Write it with ``to_bytes()`` (blazen's fast MessagePack), ``to_msgpack()`` (the Rust
    core's MessagePack), ``to_json()``; read it back with the matching ``from_*`` or ``load``.
    ``collected_events`` maps an event type to the encoded data of the events buffered by
    ``ctx.collect_events``; ``pending_events`` are events emitted but not yet handled.
    """

    version: int
    workflow_name: str
    run_id: str
    timestamp: str
    context_state: _Part[ContextState, Mapping[str, StateValue]] = _Part(as_context_state)
    collected_events: _Part[CollectedEvents, Mapping[str, list[Any]]] = _Part(as_collected_events)
    pending_events: _Part[PendingEvents, Iterable[SerializedEvent]] = _Part(as_pending_events)
    metadata: _Part[SnapshotMetadata, Mapping[str, Any]] = _Part(as_metadata)

    @classmethod
    def new(
        cls,
        workflow_name: str,
        run_id: str,
        *,
        context_state: Mapping[str, StateValue] | None = None,
        collected_events: Mapping[str, list[Any]] | None = None,
        pending_events: Iterable[SerializedEvent] | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: str | None = None,
    ) -> WorkflowSnapshot:
        """A current-version snapshot taken now; ``metadata`` gets ``workflow_name`` and
        ``run_id`` first, as the Rust core writes them."""
        return cls(
            version=SNAPSHOT_VERSION,
            workflow_name=workflow_name,
            run_id=run_id,
            timestamp=utc_timestamp() if timestamp is None else timestamp,
            context_state=context_state,
            collected_events=collected_events,
            pending_events=pending_events,
            metadata={"workflow_name": workflow_name, "run_id": run_id, **(metadata or {})},
        )

    def __repr__(self) -> str:
        """Short, like the Rust core's: a snapshot may hold megabytes of context."""
        return (
            f'WorkflowSnapshot(workflow_name="{self.workflow_name}", run_id={self.run_id}, '
            f"version={self.version}, pending={len(self.pending_events)}, "
            f"refs={len(self.context_state)})"
        )

    def to_bytes(self, *, key: Key = None) -> bytes:
        """blazen's MessagePack (the fast path: each large blob copied once, bytes as ``bin``).

        Signed with ``key`` or ``$BLAZEN_SNAPSHOT_KEY``. The Rust core reads it unless an
        event field or metadata value holds bytes; ``to_msgpack()`` is always readable there.
        """
        return formats.write_msgpack(self, key)

    def to_msgpack(self, *, key: Key = None) -> bytes:
        """The Rust core's MessagePack (``bytes``, a sequence of ints); signed like ``to_bytes``.

        Same as ``to_bytes()`` except that bytes inside event data and metadata are written
        as JSON tags, which the Rust core's ``WorkflowSnapshot.from_msgpack`` accepts.
        """
        return formats.write_msgpack(self, key, portable=True)

    def to_json(self, *, key: Key = None) -> str:
        """Compact JSON text in the Rust core's layout (bytes as arrays of integers)."""
        return formats.write_json(self, key)

    def to_json_pretty(self, *, key: Key = None) -> str:
        """The same JSON indented by two spaces, as the Rust core's ``to_json_pretty``."""
        return formats.write_json(self, key, indent=2)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, key: Key = None
    ) -> WorkflowSnapshot:
        """Read MessagePack bytes; ``SnapshotError`` when they are not a valid snapshot."""
        return cls(*formats.read_msgpack(data, key))

    @classmethod
    def from_msgpack(
        cls, data: bytes | bytearray | memoryview | Sequence[int], *, key: Key = None
    ) -> WorkflowSnapshot:
        """Read MessagePack from either engine: bytes-like, or a sequence of ints 0..255."""
        return cls(*formats.read_msgpack(data, key))

    @classmethod
    def from_json(
        cls, json: str | bytes | bytearray | memoryview, *, key: Key = None
    ) -> WorkflowSnapshot:
        """Read JSON text (Rust core or blazen); ``SnapshotError`` when it is not a snapshot."""
        return cls(*formats.read_json(json, key))

    @classmethod
    def load(
        cls, obj: WorkflowSnapshot | bytes | bytearray | memoryview | str, *, key: Key = None
    ) -> WorkflowSnapshot:
        """A snapshot from itself, MessagePack or JSON bytes (by first byte ``{``), or JSON text."""
        if isinstance(obj, WorkflowSnapshot):
            return obj
        return cls(*formats.read_any(obj, key))
