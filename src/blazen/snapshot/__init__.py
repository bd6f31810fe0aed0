"""Snapshots of a run: the ``WorkflowSnapshot`` model, its MessagePack/JSON formats, event data.

The byte layout is specified in ``docs/snapshot-format.md``. Loading a snapshot never
executes code: ``Native`` values stay pickle bytes until a step reads them.

Modules, lowest first (each imports only from the ones above it): ``event_data`` (an
event's fields to snapshot data and back), ``sign`` (HMAC envelope), ``_wire`` (checks and
JSON/MessagePack forms of each part), ``fields`` (the part containers), ``_structure``
(the top-level map), ``formats`` (bytes and text), ``model`` (``WorkflowSnapshot``).
"""

from blazen.errors import SnapshotError as SnapshotError
from blazen.snapshot.event_data import decode_event as decode_event
from blazen.snapshot.event_data import decode_field_value as decode_field_value
from blazen.snapshot.event_data import encode_event as encode_event
from blazen.snapshot.event_data import encode_field_value as encode_field_value
from blazen.snapshot.fields import SerializedEvent as SerializedEvent
from blazen.snapshot.model import SNAPSHOT_VERSION as SNAPSHOT_VERSION
from blazen.snapshot.model import WorkflowSnapshot as WorkflowSnapshot
from blazen.snapshot.sign import KEY_ENV as KEY_ENV

__all__ = [
    "KEY_ENV",
    "SNAPSHOT_VERSION",
    "SerializedEvent",
    "SnapshotError",
    "WorkflowSnapshot",
    "decode_event",
    "decode_field_value",
    "encode_event",
    "encode_field_value",
]
