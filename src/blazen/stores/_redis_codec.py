"""The Redis store's encodings: a batch as log entries and script arguments, and back.

A run's history is a Redis list with one element per commit: an 8-byte big-endian double
(the server time in microseconds, stamped by the commit script) followed by the msgpack of
``[step, consumed, emitted, writes, collected, result, status, error]``, where an emitted
event is ``[id, type, data, source, target]`` and a value ``[kind, inline, digest]``. The
entry is assembled from the pieces the shared batch already encoded (event data, collect
buffers), so nothing is encoded twice. Blobs are stored once, keyed by their hex digest.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from blazen.errors import StoreError
from blazen.stores._batch import EncodedBatch, EncodedCommit
from blazen.stores._codec import StoredColumns, unpack, value_from_columns
from blazen.stores._rows import RECORD_FIELDS, checkpoint_infos, record_from_row
from blazen.stores.base import CheckpointInfo, PendingEvent, RunRecord
from blazen.values import StateValue

__all__ = [
    "Replay",
    "blob_args",
    "checkpoints",
    "commit_args",
    "decode_log",
    "entry",
    "events",
    "record",
]

_STAMP = struct.Struct(">d")
_NIL = msgpack.packb(None)


def entry(commit: EncodedCommit) -> bytes:
    """The msgpack log entry of one encoded commit (without its time stamp)."""
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack_array_header(10), packer.pack(commit.step), packer.pack(commit.consumed)]
    parts.append(packer.pack_array_header(len(commit.emitted)))
    for event_id, event_type, source_step, target_step, data in commit.emitted:
        parts += [packer.pack_array_header(5), packer.pack(event_id), packer.pack(event_type)]
        parts += [data, packer.pack(source_step), packer.pack(target_step)]
    parts.append(packer.pack([(key, *columns) for key, columns in commit.writes]))
    parts.append(_NIL if commit.collected is None else commit.collected)
    parts.append(packer.pack(commit.result))
    parts += [packer.pack(commit.status), packer.pack(commit.error)]
    parts += [packer.pack(commit.attempt), packer.pack(commit.attempt_error)]
    return b"".join(parts)


def commit_args(batch: EncodedBatch) -> list[Any]:
    """The commit script's per-commit arguments: count, then entry, consumed and emitted ids."""
    out: list[Any] = [len(batch.commits)]
    for commit in batch.commits:
        ids = [ev[0] for ev in commit.emitted]
        out += [entry(commit), len(commit.consumed), *commit.consumed, len(ids), *ids]
    return out


def blob_args(blobs: Mapping[bytes, tuple[str, bytes | str]]) -> list[Any]:
    """The commit script's per-blob arguments: count, then hex digest, mode and value of each
    (``d`` payload sent, ``k`` expected on the server, ``s`` staged under the key given)."""
    out: list[Any] = [len(blobs)]
    for digest, (mode, value) in blobs.items():
        out += [digest.hex(), mode, value]
    return out


def decode_log(elements: Sequence[bytes]) -> list[tuple[float, list[Any]]]:
    """``(created_at, body)`` of each log element."""
    return [
        (_STAMP.unpack_from(element)[0] / 1e6, unpack(element[_STAMP.size :]))
        for element in elements
    ]


def record(run_id: str, fields: Mapping[bytes, bytes]) -> RunRecord:
    """A ``RunRecord`` from the fields of a run hash (times in microseconds)."""
    row: dict[str, Any] = {name: fields.get(name.encode()) for name in RECORD_FIELDS}
    for name in ("workflow_name", "status", "owner", "error"):
        row[name] = None if row[name] is None else row[name].decode()
    row["run_id"] = run_id
    row["created_at"] = int(row["created_at"]) / 1e6
    row["updated_at"] = int(row["updated_at"]) / 1e6
    until = row["lease_until"]
    row["lease_until"] = None if until is None else int(until) / 1e6
    row["cancel_requested"] = row["cancel_requested"] == b"1"
    return record_from_row(row[name] for name in RECORD_FIELDS)


def _event(row: Sequence[Any]) -> PendingEvent:
    """A ``PendingEvent`` from its log form (the data was just unpacked: a fresh object)."""
    event_id, event_type, data, source, target = row
    return PendingEvent(event_id, event_type, data, source, target)


@dataclass(slots=True)
class Replay:
    """The state after a prefix of a run's log: what ``load`` returns, blobs by digest."""

    state: dict[str, StoredColumns] = field(default_factory=dict)
    pending: dict[str, list[Any]] = field(default_factory=dict)
    collected: dict[str, list[Any]] = field(default_factory=dict)
    result: StoredColumns | None = None

    @classmethod
    def of(cls, log: Sequence[tuple[float, list[Any]]]) -> Replay:
        """Apply the commits in order: last write per key, pending events, last buffers."""
        replay = cls()
        for _, (_step, consumed, emitted, writes, collected, result, *_) in log:
            for event_id in consumed:
                replay.pending.pop(event_id, None)
            for row in emitted:
                replay.pending[row[0]] = row
            for key, kind, inline, digest in writes:
                if kind is None:
                    replay.state.pop(key, None)
                else:
                    replay.state[key] = (kind, inline, digest)
            if collected is not None:
                replay.collected = collected
            if result is not None:
                replay.result = tuple(result)
        return replay

    def digests(self) -> list[bytes]:
        """The blob digests the loaded state and result need."""
        values = [*self.state.values(), self.result or (None, None, None)]
        return sorted({digest for _, _, digest in values if digest is not None})

    def values(self, blobs: Mapping[bytes, bytes]) -> dict[str, StateValue]:
        """The context state, large payloads taken from ``blobs``."""
        return {key: _decode(value, blobs) for key, value in self.state.items()}

    def pending_events(self) -> list[PendingEvent]:
        """The pending events in emission order."""
        return [_event(row) for row in self.pending.values()]

    def result_value(self, blobs: Mapping[bytes, bytes]) -> StateValue | None:
        """The last result, if any."""
        return None if self.result is None else _decode(self.result, blobs)


def _decode(value: StoredColumns, blobs: Mapping[bytes, bytes]) -> StateValue:
    """A ``StateValue`` from its stored form."""
    kind, data, digest = value
    assert kind is not None
    if digest is None:
        return value_from_columns(kind, data or b"")
    payload = blobs.get(digest)
    if payload is None:
        raise StoreError(f"blob {digest.hex()} is missing from the Redis store")
    return value_from_columns(kind, payload)


def checkpoints(
    log: Sequence[tuple[float, list[Any]]], epochs: Sequence[int] = ()
) -> list[CheckpointInfo]:
    """The commit history described by a run's log (``epochs``: each commit's epoch)."""
    rows = [
        (
            seq,
            body[0],
            created,
            len(body[1]),
            body[8] if len(body) > 8 else 1,
            body[9] if len(body) > 9 and body[9] is not None else body[7],
            epochs[seq] if seq < len(epochs) else 0,
        )
        for seq, (created, body) in enumerate(log)
    ]
    writes = [(seq, write[0]) for seq, (_, body) in enumerate(log) for write in body[3]]
    emitted = [(seq, row[0]) for seq, (_, body) in enumerate(log) for row in body[2]]
    return checkpoint_infos(rows, writes, emitted)


def events(log: Sequence[tuple[float, list[Any]]]) -> list[tuple[int, PendingEvent, int | None]]:
    """Every event of the log as ``(emitted_seq, event, consumed_seq or None)``."""
    emitted: list[tuple[int, list[Any]]] = []
    consumed: dict[str, int] = {}
    for seq, (_, body) in enumerate(log):
        consumed.update(dict.fromkeys(body[1], seq))
        emitted.extend((seq, row) for row in body[2])
    return [(seq, _event(row), consumed.get(row[0])) for seq, row in emitted]
