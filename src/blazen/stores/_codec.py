"""Byte encodings shared by the store backends: msgpack data and a value's stored columns.

A ``StateValue`` is stored as three columns (``StoredColumns``): its kind, and either its
payload inline or the sha256 digest of its payload stored once as a blob (payloads of at
least ``INLINE_LIMIT`` bytes). A ``Json`` value's payload is its msgpack encoding; a ``Bytes``
or ``Native`` value's payload is its own buffer, never copied. Large blobs
(``STREAM_LIMIT``) travel in ``CHUNK``-sized pieces, read back into one buffer.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgpack

from blazen.errors import StoreError
from blazen.values import StateValue

__all__ = [
    "CHUNK",
    "CREATE_STEP",
    "DELETED",
    "INLINE_LIMIT",
    "STREAM_LIMIT",
    "Assembly",
    "Clock",
    "Packer",
    "StoredColumns",
    "chunks",
    "pack",
    "new_row",
    "stored_columns",
    "unpack",
    "value_from_columns",
]

INLINE_LIMIT = 4096
"""Payloads this large or larger are content-addressed blobs, stored once per store."""

STREAM_LIMIT = 1024 * 1024
"""Blobs this large or larger are written and read in ``CHUNK`` pieces, never copied whole."""

CHUNK = 1024 * 1024
"""The piece size of blob streaming (bounds the extra memory of a large write or read)."""

CREATE_STEP = "<create>"
"""The ``step`` recorded for commit 0, written by ``create_run``."""


class Packer:
    """A reusable msgpack encoder for one thread at a time (a batch makes its own): much
    cheaper per call than ``msgpack.packb``, which builds a packer every time."""

    __slots__ = ("raw",)

    def __init__(self) -> None:
        # msgpack's own pack (no wrapper frame; it raises TypeError, ValueError or
        # OverflowError, and the packer is reset after one): for the hottest callers.
        self.raw: Callable[[Any], bytes] = msgpack.Packer(use_bin_type=True).pack

    def __call__(self, obj: Any) -> bytes:
        """Encode ``obj``; ``StoreError`` for anything msgpack cannot encode."""
        try:
            data: bytes = self.raw(obj)
        except (TypeError, ValueError, OverflowError) as exc:
            raise StoreError(f"cannot encode {type(obj).__name__} with msgpack: {exc}") from exc
        return data


def pack(obj: Any) -> bytes:
    """Encode a msgpack-able structure; ``StoreError`` for anything msgpack cannot encode."""
    return Packer()(obj)


def unpack(data: bytes) -> Any:
    """Decode what :func:`pack` wrote (a fresh object every call, so callers may mutate it)."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise StoreError(f"corrupt msgpack data in store: {exc}") from exc


StoredColumns = tuple[str | None, bytes | None, bytes | None]
"""``(kind, data, digest)``: a context value as a store keeps it: ``kind`` (``None``:
deleted), then either the payload inline (``data``) or the sha256 ``digest`` of its blob.

A plain tuple, not a NamedTuple: the collector stops tracking a plain tuple of strings and
bytes at its first pass, and the rows of queued commits then never reach its oldest
generation (see ``_batch.EncodedBatch``). Read it by unpacking."""

DELETED: StoredColumns = (None, None, None)

new_row = tuple.__new__
"""Builds a NamedTuple row without its Python-level ``__new__`` (a frame less per row: the
rows of every commit of a durable run are built on the event loop's thread)."""


def stored_columns(
    key: str, value: StateValue | None, packer: Callable[[Any], bytes] = pack
) -> tuple[StoredColumns, bytes | None]:
    """``(columns, blob payload or None)`` of the value written under ``key``.

    The payload of a ``Bytes``/``Native`` value is its own buffer (no copy); ``StoreError``
    when ``value`` is neither a ``StateValue`` nor ``None``.
    """
    if value is None:
        return DELETED, None
    if isinstance(value, StateValue.Json):
        kind, payload = "json", packer(value.value)
    elif isinstance(value, (StateValue.Bytes, StateValue.Native)):
        kind, payload = value.kind, value.data
    else:
        raise StoreError(f"context value for {key!r} is {type(value).__name__}, not StateValue")
    if len(payload) < INLINE_LIMIT:
        return (kind, payload, None), None
    return (kind, None, hashlib.sha256(payload).digest()), payload


def value_from_columns(kind: str, payload: bytes) -> StateValue:
    """Rebuild a ``StateValue`` from its kind and payload (inline or the blob's)."""
    if kind == "json":
        return StateValue.Json(unpack(payload))
    if kind == "bytes":
        return StateValue.Bytes(payload)
    if kind == "native":
        return StateValue.Native(payload)
    raise StoreError(f"unknown StateValue kind {kind!r} in store")


def chunks(payload: bytes) -> Iterable[memoryview]:
    """``CHUNK``-sized views of a payload (no copies), for streaming it to a server."""
    view = memoryview(payload)
    return (view[at : at + CHUNK] for at in range(0, len(view), CHUNK))


class Assembly:
    """One ``bytes`` of a known size built from consecutive pieces, without a second copy.

    The pieces are written into a ``BytesIO`` grown to ``size`` first; ``value()`` then
    hands over its buffer instead of copying it (CPython's ``BytesIO.getvalue`` does so when
    nothing else shares the buffer), so a read peaks at the value plus one piece.
    """

    __slots__ = ("_buffer", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._buffer = io.BytesIO()
        if size:
            self._buffer.seek(size - 1)
            self._buffer.write(b"\0")
            self._buffer.seek(0)

    def add(self, piece: bytes) -> None:
        """Append the next piece."""
        self._buffer.write(piece)

    def value(self) -> bytes:
        """The assembled bytes; ``StoreError`` if the pieces did not add up to ``size``."""
        got = self._buffer.tell()
        if got != self._size:
            raise StoreError(f"a blob read back {got} bytes, not the {self._size} stored")
        return self._buffer.getvalue()


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
