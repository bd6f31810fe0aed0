"""The Redis store's encodings: a batch as script arguments, and log entries back as records.

A run's history is a Redis list with one element per commit: an 8-byte big-endian double
(the server time in microseconds, stamped by the commit script) followed by the msgpack of
``[step, consumed, emitted, writes, collected, result, status, error]``. Values of at least
``INLINE_LIMIT`` bytes are replaced by their sha256 digest and stored once as blob keys.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blazen.errors import StoreError
from blazen.stores._codec import blob_hash, decode_value, encode_value, pack, unpack
from blazen.stores.base import CheckpointInfo, Commit, PendingEvent, RunRecord
from blazen.values import StateValue

__all__ = [
    "EAGER_BLOB_LIMIT",
    "Batch",
    "Replay",
    "checkpoints",
    "decode_log",
    "encode_batch",
    "events",
    "record",
]

EAGER_BLOB_LIMIT = 64 * 1024
"""Blobs smaller than this go with the first commit attempt; larger ones only when missing."""

_STAMP = struct.Struct(">d")

# A stored value: (kind, inline payload, blob digest); kind None means "deleted".
_Value = tuple[str | None, bytes | None, bytes | None]


@dataclass(slots=True)
class Batch:
    """A batch of commits encoded for the commit script, and the blobs it references."""

    entries: list[bytes] = field(default_factory=list)
    consumed: list[tuple[str, ...]] = field(default_factory=list)
    emitted: list[tuple[str, ...]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None

    def args(self, send: set[str]) -> list[Any]:
        """The per-commit and per-blob script arguments; payloads only for hashes in ``send``."""
        out: list[Any] = [len(self.entries)]
        for entry, consumed, emitted in zip(self.entries, self.consumed, self.emitted, strict=True):
            out += [entry, len(consumed), *consumed, len(emitted), *emitted]
        out.append(len(self.blobs))
        for digest, payload in self.blobs.items():
            out += [digest, payload if digest in send else b""]
        return out


def _value(value: StateValue | None, blobs: dict[str, bytes]) -> _Value:
    """A value as stored in a log entry; a large payload goes to ``blobs`` by its hex digest."""
    if value is None:
        return None, None, None
    kind, payload = encode_value(value)
    digest = blob_hash(payload)
    if digest is None:
        return kind, payload, None
    blobs[digest.hex()] = payload
    return kind, None, digest


def _entry(commit: Commit, blobs: dict[str, bytes]) -> bytes:
    """The msgpack log entry of one commit (without its time stamp)."""
    writes = []
    for key, value in commit.writes.items():
        if type(key) is not str:
            raise StoreError(f"context keys must be str, not {type(key).__name__}")
        writes.append((key, *_value(value, blobs)))
    emitted = [
        (ev.event_id, ev.event_type, ev.data, ev.source_step, ev.target_step)
        for ev in commit.emitted
    ]
    collected = None if commit.collected is None else dict(commit.collected)
    result = None if commit.result is None else _value(commit.result, blobs)
    body = [commit.step, list(commit.consumed), emitted, writes, collected, result]
    return pack([*body, commit.status, commit.error])


def encode_batch(commits: Sequence[Commit]) -> Batch:
    """Encode a batch before any round trip, so bad input fails without touching Redis."""
    batch = Batch()
    for commit in commits:
        batch.entries.append(_entry(commit, batch.blobs))
        batch.consumed.append(tuple(commit.consumed))
        batch.emitted.append(tuple(ev.event_id for ev in commit.emitted))
        if commit.status is not None:
            batch.status = commit.status
        if commit.error is not None:
            batch.error = commit.error
    return batch


def decode_log(elements: Sequence[bytes]) -> list[tuple[float, list[Any]]]:
    """``(created_at, body)`` of each log element."""
    return [
        (_STAMP.unpack_from(element)[0] / 1e6, unpack(element[_STAMP.size :]))
        for element in elements
    ]


def _text(fields: Mapping[bytes, bytes], name: bytes) -> str | None:
    """A text field of a run hash, or ``None`` when absent."""
    value = fields.get(name)
    return None if value is None else value.decode()


def record(run_id: str, fields: Mapping[bytes, bytes]) -> RunRecord:
    """A ``RunRecord`` from the fields of a run hash."""
    return RunRecord(
        run_id,
        fields[b"workflow_name"].decode(),
        fields[b"status"].decode(),  # type: ignore[arg-type]
        int(fields[b"created_at"]) / 1e6,
        int(fields[b"updated_at"]) / 1e6,
        int(fields[b"last_seq"]),
        _text(fields, b"owner"),
        _text(fields, b"error"),
        unpack(fields[b"metadata"]),
    )


def _event(row: Sequence[Any]) -> PendingEvent:
    """A ``PendingEvent`` from its log form."""
    event_id, event_type, data, source, target = row
    return PendingEvent(event_id, event_type, data, source, target)


@dataclass(slots=True)
class Replay:
    """The state after a prefix of a run's log: what ``load`` returns, blobs by digest."""

    state: dict[str, _Value] = field(default_factory=dict)
    pending: dict[str, list[Any]] = field(default_factory=dict)
    collected: dict[str, list[Any]] = field(default_factory=dict)
    result: _Value | None = None

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


def _decode(value: _Value, blobs: Mapping[bytes, bytes]) -> StateValue:
    """A ``StateValue`` from its stored form."""
    kind, inline, digest = value
    assert kind is not None
    if digest is None:
        return decode_value(kind, inline or b"")
    payload = blobs.get(digest)
    if payload is None:
        raise StoreError(f"blob {digest.hex()} is missing from the Redis store")
    return decode_value(kind, payload)


def checkpoints(log: Sequence[tuple[float, list[Any]]]) -> list[CheckpointInfo]:
    """The commit history described by a run's log."""
    return [
        CheckpointInfo(
            seq,
            body[0],
            created,
            tuple(write[0] for write in body[3]),
            tuple(row[0] for row in body[2]),
            len(body[1]),
        )
        for seq, (created, body) in enumerate(log)
    ]


def events(log: Sequence[tuple[float, list[Any]]]) -> list[tuple[int, PendingEvent, int | None]]:
    """Every event of the log as ``(emitted_seq, event, consumed_seq or None)``."""
    emitted: list[tuple[int, list[Any]]] = []
    consumed: dict[str, int] = {}
    for seq, (_, body) in enumerate(log):
        consumed.update(dict.fromkeys(body[1], seq))
        emitted.extend((seq, row) for row in body[2])
    return [(seq, _event(row), consumed.get(row[0])) for seq, row in emitted]
