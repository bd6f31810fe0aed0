"""Byte encodings shared by the store backends: msgpack data and ``StateValue`` payloads.

A ``StateValue`` is stored as ``(kind, payload)``: a ``Json`` value's payload is its msgpack
encoding, a ``Bytes`` or ``Native`` value's payload is its raw bytes. Payloads of at least
``INLINE_LIMIT`` bytes are stored once, content-addressed by their sha256 digest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack

from blazen.errors import StoreError
from blazen.stores.base import Commit, PendingEvent
from blazen.values import StateValue

__all__ = [
    "CREATE_STEP",
    "INLINE_LIMIT",
    "Clock",
    "blob_hash",
    "decode_value",
    "encode_value",
    "pack",
    "start_commit",
    "unknown_run",
    "unpack",
]

INLINE_LIMIT = 4096
"""Payloads this large or larger are content-addressed blobs, stored once per store."""

CREATE_STEP = "<create>"
"""The ``step`` recorded for commit 0, written by ``create_run``."""


def start_commit(
    pending: Sequence[PendingEvent],
    context_state: Mapping[str, StateValue],
    collected: Mapping[str, list[Any]],
) -> Commit:
    """Commit 0 of a run: ``create_run``'s whole starting state, as one commit."""
    return Commit(CREATE_STEP, emitted=tuple(pending), writes=context_state, collected=collected)


def pack(obj: Any) -> bytes:
    """Encode a msgpack-able structure; ``StoreError`` for anything msgpack cannot encode."""
    try:
        data: bytes = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StoreError(f"cannot encode {type(obj).__name__} with msgpack: {exc}") from exc
    return data


def unpack(data: bytes) -> Any:
    """Decode what :func:`pack` wrote (a fresh object every call, so callers may mutate it)."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise StoreError(f"corrupt msgpack data in store: {exc}") from exc


def encode_value(value: StateValue) -> tuple[str, bytes]:
    """Split a ``StateValue`` into ``(kind, payload)`` for storage."""
    if isinstance(value, StateValue.Json):
        return "json", pack(value.value)
    if isinstance(value, (StateValue.Bytes, StateValue.Native)):
        return value.kind, value.data
    raise StoreError(f"a context value must be a StateValue, not {type(value).__name__}")


def decode_value(kind: str, payload: bytes) -> StateValue:
    """Rebuild a ``StateValue`` from what :func:`encode_value` returned."""
    if kind == "json":
        return StateValue.Json(unpack(payload))
    if kind == "bytes":
        return StateValue.Bytes(payload)
    if kind == "native":
        return StateValue.Native(payload)
    raise StoreError(f"unknown StateValue kind {kind!r} in store")


def blob_hash(payload: bytes) -> bytes | None:
    """The sha256 digest of a payload stored as a blob, or ``None`` when it stays inline."""
    if len(payload) < INLINE_LIMIT:
        return None
    return hashlib.sha256(payload).digest()


def unknown_run(run_id: str) -> StoreError:
    """The error every backend raises for a run id it does not hold."""
    return StoreError(f"unknown run id {run_id!r}")


class Clock:
    """Wall-clock seconds that strictly increase per store, so ``updated_at`` orders runs."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0.0

    def now(self) -> float:
        """``time.time()``, bumped by a microsecond if it did not move since the last call."""
        now = max(time.time(), self._last + 1e-6)
        self._last = now
        return now
