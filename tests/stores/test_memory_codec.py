"""MemoryStore specifics and the shared byte codec."""

from __future__ import annotations

import itertools

import pytest

from blazen.errors import StoreError
from blazen.stores._codec import (
    INLINE_LIMIT,
    Clock,
    blob_hash,
    decode_value,
    encode_value,
    pack,
    unpack,
)
from blazen.stores.base import CheckpointStore, Commit
from blazen.stores.memory import MemoryStore

from .helpers import B, J, N, new_run


def test_memory_store_is_a_checkpoint_store() -> None:
    assert isinstance(MemoryStore(), CheckpointStore)
    with pytest.raises(StoreError, match="not a memory store URL"):
        MemoryStore.from_url("sqlite:///x.db")
    assert MemoryStore.from_url("memory://") is not MemoryStore.from_url("memory://")


async def test_memory_store_keeps_values_without_copying() -> None:
    store = MemoryStore()
    small, big = B(b"abc"), B(b"x" * INLINE_LIMIT)
    await new_run(store, state={"small": small, "big": big})
    await store.commit("r1", [Commit("s", writes={"again": B(b"x" * INLINE_LIMIT)})], owner="me")
    state = (await store.load("r1")).context_state
    assert state["small"] is small
    assert state["big"] is big
    assert state["again"] is big
    await store.close()


@pytest.mark.parametrize(
    "value", [J({"a": [1, 2.5, None, "s", True]}), B(b""), B(b"\x00" * 5000), N(b"\x80\x05.")]
)
def test_values_encode_and_decode(value: object) -> None:
    kind, payload = encode_value(value)  # type: ignore[arg-type]
    assert decode_value(kind, payload) == value


def test_codec_errors_are_store_errors() -> None:
    with pytest.raises(StoreError, match="cannot encode"):
        pack({"x": object()})
    with pytest.raises(StoreError, match="corrupt"):
        unpack(b"\xc1")
    with pytest.raises(StoreError, match="unknown StateValue kind"):
        decode_value("pickle", b"")
    with pytest.raises(StoreError, match="StateValue"):
        encode_value("plain string")  # type: ignore[arg-type]


def test_unpack_returns_fresh_objects() -> None:
    data = pack({"l": [1]})
    first = unpack(data)
    first["l"].append(2)
    assert unpack(data) == {"l": [1]}


def test_only_large_payloads_are_blobs() -> None:
    assert blob_hash(b"x" * (INLINE_LIMIT - 1)) is None
    digest = blob_hash(b"x" * INLINE_LIMIT)
    assert digest is not None
    assert len(digest) == 32


def test_clock_strictly_increases() -> None:
    clock = Clock()
    times = [clock.now() for _ in range(1000)]
    assert all(a < b for a, b in itertools.pairwise(times))
