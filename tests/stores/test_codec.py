"""MemoryStore specifics and the shared byte codec (stored columns, msgpack, chunks)."""

from __future__ import annotations

import itertools

import pytest

from blazen.errors import StoreError
from blazen.stores._codec import (
    CHUNK,
    DELETED,
    INLINE_LIMIT,
    Assembly,
    Clock,
    chunks,
    pack,
    stored_columns,
    unpack,
    value_from_columns,
)
from blazen.stores.base import CheckpointStore, Commit
from blazen.stores.memory import MemoryStore
from blazen.values import StateValue

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
def test_values_become_stored_columns_and_back(value: StateValue) -> None:
    (kind, data, _), blob = stored_columns("k", value)
    payload = data if blob is None else blob
    assert payload is not None
    assert kind is not None
    assert value_from_columns(kind, payload) == value
    assert stored_columns("k", None) == (DELETED, None)


def test_codec_errors_are_store_errors() -> None:
    with pytest.raises(StoreError, match="cannot encode"):
        pack({"x": object()})
    with pytest.raises(StoreError, match="corrupt"):
        unpack(b"\xc1")
    with pytest.raises(StoreError, match="unknown StateValue kind 'pickle'"):
        value_from_columns("pickle", b"")
    with pytest.raises(StoreError, match="context value for 'k' is str, not StateValue"):
        stored_columns("k", "plain string")  # type: ignore[arg-type]


def test_unpack_returns_fresh_objects() -> None:
    data = pack({"l": [1]})
    first = unpack(data)
    first["l"].append(2)
    assert unpack(data) == {"l": [1]}


def test_only_large_payloads_are_blobs_and_are_not_copied() -> None:
    small = B(b"x" * (INLINE_LIMIT - 1))
    (_, data, digest), blob = stored_columns("k", small)
    assert (digest, blob) == (None, None)
    assert data is small.data
    big = B(b"x" * INLINE_LIMIT)
    (_, data, digest), blob = stored_columns("k", big)
    assert data is None
    assert digest is not None
    assert len(digest) == 32
    assert blob is big.data  # the value's own buffer, not a copy


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 7])
def test_chunks_reassemble_into_the_same_bytes(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    pieces = list(chunks(payload))
    assert all(isinstance(p, memoryview) and len(p) <= CHUNK for p in pieces)
    whole = Assembly(size)
    for piece in pieces:
        whole.add(bytes(piece))
    assert whole.value() == payload


def test_an_assembly_that_does_not_add_up_is_a_store_error() -> None:
    whole = Assembly(10)
    whole.add(b"12345")
    with pytest.raises(StoreError, match="read back 5 bytes, not the 10 stored"):
        whole.value()


def test_clock_strictly_increases() -> None:
    clock = Clock()
    times = [clock.now() for _ in range(1000)]
    assert all(a < b for a, b in itertools.pairwise(times))
