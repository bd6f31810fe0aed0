"""Fuzzing: thousands of mutated, truncated and re-typed snapshots give SnapshotError or success."""

from __future__ import annotations

import json
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blazen.errors import SnapshotError
from blazen.snapshot import SerializedEvent, WorkflowSnapshot
from blazen.values import StateValue

KEY = b"fuzz-key"
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MORE = settings(FUZZ, max_examples=2000)
FEWER = settings(FUZZ, max_examples=500)


def seed() -> WorkflowSnapshot:
    return WorkflowSnapshot.new(
        "fuzz",
        "run",
        context_state={
            "j": StateValue.Json({"a": [1, 2.5, None, True, "x"]}),
            "b": StateValue.Bytes(b"\x00\x01\xff"),
            "n": StateValue.Native(b"\x80\x05N."),
        },
        collected_events={"blazen::StartEvent": [{"data": {"q": "hi", "raw": b"\x01"}}]},
        pending_events=[
            SerializedEvent("E", {"x": 1, "t": {"$blazen": {"Native": b"\x80\x05N."}}}, "s"),
            SerializedEvent("blazen::StopEvent", {"result": {"$blazen": {"Json": {"$blazen": 1}}}}),
        ],
        metadata={"m": [b"\x01", {"$blazen": {"Native": b"x"}}]},
        timestamp="2026-01-01T00:00:00Z",
    )


SEEDS: list[tuple[bytes, bytes | None]] = [
    (seed().to_bytes(), None),
    (seed().to_json().encode("utf-8"), None),
    (seed().to_bytes(key=KEY), KEY),
    (seed().to_json(key=KEY).encode("utf-8"), KEY),
]


def check(data: bytes | str, key: bytes | None) -> None:
    """The contract: a ``WorkflowSnapshot`` that can be written again, or ``SnapshotError``."""
    try:
        snap = WorkflowSnapshot.load(data, key=key)
    except SnapshotError:
        return
    assert isinstance(snap, WorkflowSnapshot)
    try:
        again = snap.to_bytes()
    except SnapshotError:  # e.g. a JSON string with a lone surrogate cannot be UTF-8 encoded
        return
    assert WorkflowSnapshot.from_bytes(again) == snap


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    data, key = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and buf:
            buf[pos] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xDC, 0xDD, 0xFF, 0x22]))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del buf[pos:]
        else:
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 32))]
    return bytes(buf), draw(st.sampled_from([key, None, KEY]))


@MORE
@given(mutated())
def test_mutated_snapshots(case: tuple[bytes, bytes | None]) -> None:
    check(*case)


@FEWER
@given(st.binary(max_size=200), st.sampled_from([None, KEY]))
def test_random_bytes(data: bytes, key: bytes | None) -> None:
    check(data, key)


@FEWER
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    check(text, None)


def plain(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Small trees of maps and arrays whose keys look like the snapshot's own tags."""
    keys = st.sampled_from(["Json", "Bytes", "Native", "$blazen", "data", "x"])
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    )


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
MSGPACK_TREES = plain(JSON_LEAVES | st.floats() | st.binary(max_size=8))
JSON_TREES = plain(JSON_LEAVES | st.integers(0, 300).map(lambda i: [i]))


def _replace(tree: Any, path: list[int], value: Any) -> Any:
    """``tree`` with the node reached by ``path`` (indices into children) replaced by ``value``."""
    if not path or not isinstance(tree, (dict, list)) or not tree:
        return value
    keys = list(tree) if isinstance(tree, dict) else list(range(len(tree)))
    k = keys[path[0] % len(keys)]
    copy: Any = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[k] = _replace(tree[k], path[1:], value)
    return copy


PATHS = st.lists(st.integers(0, 20), min_size=2, max_size=6)


@FUZZ
@given(PATHS, MSGPACK_TREES)
def test_structurally_mutated_msgpack(path: list[int], value: Any) -> None:
    tree = msgpack.unpackb(seed().to_bytes(), raw=False)
    check(msgpack.packb(_replace(tree, path, value), use_bin_type=True), None)


@FUZZ
@given(PATHS, JSON_TREES)
def test_structurally_mutated_json(path: list[int], value: Any) -> None:
    tree = json.loads(seed().to_json())
    check(json.dumps(_replace(tree, path, value)), None)
