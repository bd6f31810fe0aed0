"""``WorkflowSnapshot`` and ``SerializedEvent``: the Rust core's snapshot fields, as dataclasses.

The field names and their order are those of the Rust core's ``WorkflowSnapshot``, so a
snapshot moves between the two engines. Encoding lives in ``codec`` (MessagePack by
default, JSON on request) and ``sign`` (optional HMAC); this module only holds the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blazen.values import StateValue

if TYPE_CHECKING:
    from blazen.snapshot.sign import Key

__all__ = ["SNAPSHOT_VERSION", "SerializedEvent", "WorkflowSnapshot", "utc_timestamp"]

SNAPSHOT_VERSION = 1
"""The snapshot format version this blazen writes; it reads this one and every older one."""


def utc_timestamp(ns: int | None = None) -> str:
    """RFC 3339 UTC time with nanoseconds, like the Rust core: (``...T10:04:32.374158879Z``)."""
    secs, frac = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


@dataclass
class SerializedEvent:
    """An event waiting to be routed: its type name, encoded field map and emitting step.

    ``data`` is what :func:`blazen.snapshot.encode_event` returns for the event.
    """

    event_type: str
    data: Any
    source_step: str | None = None


@dataclass
class WorkflowSnapshot:
    """Everything needed to resume a run; write it with ``to_bytes``/``to_json``.

    ``collected_events`` maps an event type to the encoded data of the events buffered by
    ``ctx.collect_events``; ``pending_events`` are events emitted but not yet handled.
    """

    version: int
    workflow_name: str
    run_id: str
    timestamp: str
    context_state: dict[str, StateValue] = field(default_factory=dict)
    collected_events: dict[str, list[Any]] = field(default_factory=dict)
    pending_events: list[SerializedEvent] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        workflow_name: str,
        run_id: str,
        *,
        context_state: dict[str, StateValue] | None = None,
        collected_events: dict[str, list[Any]] | None = None,
        pending_events: list[SerializedEvent] | None = None,
        metadata: dict[str, Any] | None = None,
        timestamp: str | None = None,
    ) -> WorkflowSnapshot:
        """A current-version snapshot taken now; ``metadata`` gets ``workflow_name`` and
        ``run_id`` first, as the Rust core writes them."""
        return cls(
            version=SNAPSHOT_VERSION,
            workflow_name=workflow_name,
            run_id=run_id,
            timestamp=utc_timestamp() if timestamp is None else timestamp,
            context_state=dict(context_state or {}),
            collected_events=dict(collected_events or {}),
            pending_events=list(pending_events or []),
            metadata={"workflow_name": workflow_name, "run_id": run_id, **(metadata or {})},
        )

    def to_bytes(self, *, key: Key = None) -> bytes:
        """MessagePack bytes (the default); signed with ``key`` or ``$BLAZEN_SNAPSHOT_KEY``."""
        from blazen.snapshot import codec

        return codec.dumps(self, key)

    def to_json(self, *, key: Key = None) -> str:
        """JSON text in the Rust core's layout (bytes as arrays of integers); signed like bytes."""
        from blazen.snapshot import codec

        return codec.dumps_json(self, key)

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, key: Key = None
    ) -> WorkflowSnapshot:
        """Read MessagePack bytes; ``SnapshotError`` when they are not a valid snapshot."""
        from blazen.snapshot import codec

        return codec.loads(data, key)

    @classmethod
    def from_json(
        cls, text: str | bytes | bytearray | memoryview, *, key: Key = None
    ) -> WorkflowSnapshot:
        """Read JSON text (Rust core or blazen); ``SnapshotError`` when it is not a snapshot."""
        from blazen.snapshot import codec

        return codec.loads_json(text, key)

    @classmethod
    def load(
        cls, obj: WorkflowSnapshot | bytes | bytearray | memoryview | str, *, key: Key = None
    ) -> WorkflowSnapshot:
        """A snapshot from itself, MessagePack or JSON bytes (by first byte ``{``), or JSON text."""
        from blazen.snapshot import codec

        return codec.load(obj, key)
