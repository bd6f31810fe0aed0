"""Snapshots of a run: the ``WorkflowSnapshot`` model, its MessagePack/JSON codec, event encoding.

The byte layout is specified in ``docs/snapshot-format.md``. Loading a snapshot never
executes code: ``Native`` values stay pickle bytes until a step reads them.
"""

from blazen.errors import SnapshotError as SnapshotError
from blazen.snapshot.events import decode_event as decode_event
from blazen.snapshot.events import decode_value as decode_value
from blazen.snapshot.events import encode_event as encode_event
from blazen.snapshot.events import encode_value as encode_value
from blazen.snapshot.model import SNAPSHOT_VERSION as SNAPSHOT_VERSION
from blazen.snapshot.model import SerializedEvent as SerializedEvent
from blazen.snapshot.model import WorkflowSnapshot as WorkflowSnapshot
from blazen.snapshot.sign import KEY_ENV as KEY_ENV

__all__ = [
    "KEY_ENV",
    "SNAPSHOT_VERSION",
    "SerializedEvent",
    "SnapshotError",
    "WorkflowSnapshot",
    "decode_event",
    "decode_value",
    "encode_event",
    "encode_value",
]
