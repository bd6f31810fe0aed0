"""Store rows back to records: the mappings the backends share after their reads.

SQL backends select ``RECORD_COLUMNS`` in one order and Redis rebuilds the same tuple from
a run hash, so one ``record_from_row`` serves them all; likewise one grouping turns per-seq
rows into ``CheckpointInfo`` and one mapping turns event rows into ``PendingEvent``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from blazen.errors import StoreError
from blazen.stores._codec import unpack, value_from_columns
from blazen.stores._errors import no_commit
from blazen.stores.base import CheckpointInfo, PendingEvent, RunRecord, run_status
from blazen.values import StateValue

__all__ = [
    "RECORD_FIELDS",
    "checkpoint_infos",
    "event_from_row",
    "load_seq",
    "record_from_row",
    "value_from_row",
]

RECORD_FIELDS = (
    "run_id",
    "workflow_name",
    "status",
    "created_at",
    "updated_at",
    "last_seq",
    "owner",
    "error",
    "metadata",
    "epoch",
    "lease_until",
    "cancel_requested",
)
"""The run columns every backend reads, in ``record_from_row``'s order (metadata packed)."""


def record_from_row(row: Iterable[Any]) -> RunRecord:
    """A ``RunRecord`` from the values of ``RECORD_FIELDS``, in that order."""
    (run_id, workflow_name, status, created_at, updated_at, last_seq, owner, error, meta, epoch,
     lease_until, cancel) = row  # fmt: skip
    return RunRecord(
        run_id,
        workflow_name,
        run_status(status),
        float(created_at),
        float(updated_at),
        int(last_seq),
        owner,
        error,
        unpack(meta),
        int(epoch or 0),
        None if lease_until is None or owner is None else float(lease_until),
        bool(cancel),
    )


def event_from_row(
    event_id: str, event_type: str, data: bytes, source: str | None, target: str | None
) -> PendingEvent:
    """A ``PendingEvent`` from its stored columns (a fresh copy of its data)."""
    return PendingEvent(event_id, event_type, unpack(data), source, target)


def load_seq(record: RunRecord, seq: int | None) -> int:
    """The commit a ``load(run_id, seq)`` reads: ``seq``, or the last; ``StoreError`` if absent."""
    at = record.last_seq if seq is None else seq
    if not 0 <= at <= record.last_seq:
        raise no_commit(record.run_id, seq, record.last_seq)
    return at


def checkpoint_infos(
    commits: Iterable[Sequence[Any]],
    writes: Iterable[tuple[int, str]],
    emitted: Iterable[tuple[int, str]],
) -> list[CheckpointInfo]:
    """``CheckpointInfo`` per commit row ``(seq, step, created_at, consumed count, attempt,
    error, epoch)``, with the keys written and event ids emitted by each seq (rows in commit
    order)."""
    keys: dict[int, list[str]] = {}
    for seq, key in writes:
        keys.setdefault(seq, []).append(key)
    ids: dict[int, list[str]] = {}
    for seq, event_id in emitted:
        ids.setdefault(seq, []).append(event_id)
    infos = []
    for row in commits:
        seq, step, created, consumed, attempt, error, epoch = row
        infos.append(
            CheckpointInfo(
                seq,
                step,
                created,
                tuple(keys.get(seq, ())),
                tuple(ids.get(seq, ())),
                consumed,
                int(attempt or 1),
                error,
                int(epoch or 0),
            )
        )
    return infos


def value_from_row(
    kind: str, inline: bytes | None, small: bytes | None, size: int | None
) -> StateValue | None:
    """A stored value from its columns and its blob's (``small``: the payload of a blob under
    ``STREAM_LIMIT``; ``size``: the blob's size), or ``None`` when a large blob is to be read
    in pieces; ``StoreError`` when the blob is missing."""
    payload = inline if inline is not None else small
    if payload is not None:
        return value_from_columns(kind, payload)
    if size is None:
        raise StoreError(f"the blob of a stored {kind} value is missing from the store")
    return None
