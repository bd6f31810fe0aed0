"""WorkflowSnapshot: round trips of every StateValue kind, layouts, load dispatch, copies."""

from __future__ import annotations

import json
import re
import tracemalloc
from dataclasses import fields
from typing import Any

import msgpack
import pytest

from blazen.errors import SnapshotError
from blazen.snapshot import SNAPSHOT_VERSION, SerializedEvent, WorkflowSnapshot
from blazen.values import StateValue

STATE: dict[str, StateValue] = {
    "s": StateValue.Json("héllo ✓ 日本"),
    "i": StateValue.Json(-(2**63)),
    "u": StateValue.Json(2**64 - 1),
    "f": StateValue.Json(1.5e-300),
    "t": StateValue.Json(True),
    "n": StateValue.Json(None),
    "obj": StateValue.Json({"a": [1, {"b": [None, False, "x"]}], "$blazen": {"Native": 1}}),
    "bytes": StateValue.Bytes(bytes(range(256)) * 3),
    "empty": StateValue.Bytes(b""),
    "native": StateValue.Native(b"\x80\x05not really a pickle"),
    "big": StateValue.Bytes(bytes(70_000)),
}


def make(**kwargs: Any) -> WorkflowSnapshot:
    return WorkflowSnapshot.new("wf", "run-1", **kwargs)


def test_field_names_and_order_follow_the_rust_core() -> None:
    names = [f.name for f in fields(WorkflowSnapshot)]
    assert names == [
        "version",
        "workflow_name",
        "run_id",
        "timestamp",
        "context_state",
        "collected_events",
        "pending_events",
        "metadata",
    ]
    assert [f.name for f in fields(SerializedEvent)] == ["event_type", "data", "source_step"]
    assert SerializedEvent("X", {}).source_step is None


def test_new_fills_version_timestamp_and_metadata() -> None:
    snap = make(metadata={"extra": 1})
    assert snap.version == SNAPSHOT_VERSION == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", snap.timestamp)
    assert snap.metadata == {"workflow_name": "wf", "run_id": "run-1", "extra": 1}


@pytest.mark.parametrize("fmt", ["bytes", "json"])
@pytest.mark.parametrize("key", sorted(STATE))
def test_every_state_value_round_trips(fmt: str, key: str) -> None:
    snap = make(context_state={key: STATE[key]})
    again = (
        WorkflowSnapshot.from_bytes(snap.to_bytes())
        if fmt == "bytes"
        else WorkflowSnapshot.from_json(snap.to_json())
    )
    assert again == snap
    value = again.context_state[key]
    assert type(value) is type(STATE[key])
    if isinstance(value, StateValue.Json):
        assert type(value.value) is type(STATE[key].as_json())


def test_whole_snapshot_round_trips_both_formats() -> None:
    pending = [SerializedEvent("E", {"x": b"\x00", "y": [1]}, "step"), SerializedEvent("F", {})]
    snap = make(
        context_state=STATE,
        collected_events={"E": [{"x": 1}], "blazen::StartEvent": [{"data": {"q": b"b"}}]},
        pending_events=pending,
    )
    assert WorkflowSnapshot.from_bytes(snap.to_bytes()) == snap
    assert WorkflowSnapshot.from_json(snap.to_json()) == snap
    assert WorkflowSnapshot.load(snap.to_bytes()) == snap
    assert WorkflowSnapshot.load(snap.to_json()) == snap
    assert WorkflowSnapshot.load(snap.to_json().encode()) == snap
    assert WorkflowSnapshot.load(bytearray(snap.to_bytes())) == snap
    assert WorkflowSnapshot.load(memoryview(snap.to_bytes())) == snap
    assert WorkflowSnapshot.load(snap) is snap


def test_msgpack_layout_is_a_plain_map_with_bin_payloads() -> None:
    snap = make(context_state=STATE, pending_events=[SerializedEvent("E", {"b": b"\x01"})])
    raw = msgpack.unpackb(snap.to_bytes(), raw=False)
    assert list(raw) == [f.name for f in fields(WorkflowSnapshot)]
    assert raw["context_state"]["bytes"] == {"Bytes": bytes(range(256)) * 3}
    assert raw["context_state"]["big"] == {"Bytes": bytes(70_000)}
    assert raw["context_state"]["native"] == {"Native": b"\x80\x05not really a pickle"}
    assert raw["context_state"]["obj"] == {"Json": STATE["obj"].as_json()}
    assert raw["pending_events"] == [
        {"event_type": "E", "data": {"b": b"\x01"}, "source_step": None}
    ]
    # the hand-made chunked encoding is exactly what msgpack itself writes
    assert snap.to_bytes() == msgpack.packb(raw, use_bin_type=True)


def test_json_layout_uses_integer_arrays_like_the_rust_core() -> None:
    snap = make(
        context_state={"b": StateValue.Bytes(b"\x00\xff"), "p": StateValue.Native(b"\x80")},
        pending_events=[
            SerializedEvent("E", {"b": b"\x07", "n": {"$blazen": {"Native": b"\x01"}}})
        ],
    )
    raw = json.loads(snap.to_json())
    assert raw["context_state"] == {"b": {"Bytes": [0, 255]}, "p": {"Native": [128]}}
    assert raw["pending_events"][0]["data"] == {
        "b": {"$blazen": {"Bytes": [7]}},
        "n": {"$blazen": {"Native": [1]}},
    }


METADATA: dict[str, Any] = {
    "json": {"a": [1, None, "x"]},
    "bytes": [b"\x00", {"deep": b"\xff"}],
    "tag": {"$blazen": {"Native": b"\x80\x05N."}},
    "literal": {"$blazen": {"Bytes": [1, 2]}},
    "nested": [{"$blazen": {"$blazen": b""}}],
}


def test_metadata_holds_json_and_bytes_anywhere_in_both_formats() -> None:
    snap = make(metadata=METADATA)
    assert WorkflowSnapshot.from_bytes(snap.to_bytes()).metadata == snap.metadata
    again = WorkflowSnapshot.from_json(snap.to_json())
    assert again.metadata == snap.metadata
    raw = json.loads(snap.to_json())["metadata"]
    assert raw["json"] == {"a": [1, None, "x"]}
    assert raw["bytes"] == [{"$blazen": {"Bytes": [0]}}, {"deep": {"$blazen": {"Bytes": [255]}}}]
    assert raw["literal"] == {"$blazen": {"Json": {"$blazen": {"Bytes": [1, 2]}}}}


def test_optional_fields_may_be_absent() -> None:
    base = {
        "version": 1,
        "workflow_name": "w",
        "run_id": "r",
        "timestamp": "t",
        "context_state": {},
    }
    snap = WorkflowSnapshot.from_bytes(msgpack.packb(base))
    assert (snap.collected_events, snap.pending_events, snap.metadata) == ({}, [], {})
    assert WorkflowSnapshot.from_json(json.dumps(base)) == snap


def test_unknown_top_level_keys_are_ignored() -> None:
    base = {
        "version": 1,
        "workflow_name": "w",
        "run_id": "r",
        "timestamp": "t",
        "context_state": {},
    }
    assert WorkflowSnapshot.from_json(json.dumps({**base, "future": 1})).workflow_name == "w"


def test_timestamp_is_any_string_on_load() -> None:
    snap = WorkflowSnapshot(1, "w", "r", "yesterday-ish")
    assert WorkflowSnapshot.from_bytes(snap.to_bytes()).timestamp == "yesterday-ish"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "writes snapshot format version 1"),
        ({"workflow_name": 3}, "workflow_name"),
        ({"context_state": {"k": 1}}, "not a StateValue"),
        ({"context_state": {1: StateValue.Json(1)}}, "not a string"),
        ({"pending_events": [{"event_type": "E"}]}, "SerializedEvent"),
        ({"pending_events": [SerializedEvent("E", {"x": object()})]}, "not JSON-compatible"),
        ({"pending_events": [SerializedEvent("", {})]}, "non-empty"),
        ({"collected_events": {"E": [{"x": (1, 2)}]}}, "tuple"),
        ({"metadata": {"k": (1, 2)}}, "tuple"),
        ({"metadata": {"k": [{1: "x"}]}}, "key 1 is not a string"),
        ({"metadata": {"k": float("nan")}}, "finite"),
    ],
)
def test_writing_an_invalid_snapshot_raises_snapshot_error(
    change: dict[str, Any], message: str
) -> None:
    snap = make()
    for name, value in change.items():
        setattr(snap, name, value)
    with pytest.raises(SnapshotError, match=message):
        snap.to_bytes()
    with pytest.raises(SnapshotError, match=message):
        snap.to_json()


def test_big_blob_snapshot_is_the_size_of_the_blob() -> None:
    blob = bytes(range(256)) * 40_000  # ~10 MB
    state = {f"k{i}": StateValue.Json({"i": i}) for i in range(1000)}
    data = make(context_state={"blob": StateValue.Bytes(blob), **state}).to_bytes()
    assert len(data) <= 1.01 * len(blob)


@pytest.mark.parametrize(
    ("write", "read"), [("to_bytes", "from_bytes"), ("to_msgpack", "from_msgpack")]
)
def test_big_blob_is_copied_once_each_way(write: str, read: str) -> None:
    """Serialize and load each allocate about one blob, not two (no intermediate copies)."""
    blob = bytes(range(256)) * 80_000  # ~20 MB
    snap = make(context_state={"blob": StateValue.Bytes(blob), "n": StateValue.Json(1)})
    tracemalloc.start()
    try:
        data = getattr(snap, write)()
        _, peak_write = tracemalloc.get_traced_memory()
        del data
        data = getattr(snap, write)()
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        again = getattr(WorkflowSnapshot, read)(data)
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert again == snap
    assert peak_write < 1.2 * len(blob)
    assert peak_read - base < 1.2 * len(blob)


@pytest.mark.parametrize("blank", [b" ", b"\n", b"\t", b"\r\n", b" \t\r\n "])
def test_json_bytes_after_blank_space_are_recognised_as_json(blank: bytes) -> None:
    """A JSON file with a leading newline or indent still loads as JSON, not as MessagePack."""
    snap = make(context_state={"n": StateValue.Json(1)})
    data = blank + snap.to_json().encode()
    assert WorkflowSnapshot.load(data) == snap
    assert WorkflowSnapshot.load(bytearray(data)) == snap
    with pytest.raises(SnapshotError, match="this is a JSON snapshot, not MessagePack"):
        WorkflowSnapshot.from_bytes(data)
    with pytest.raises(SnapshotError, match="this is a JSON snapshot, not MessagePack"):
        WorkflowSnapshot.from_msgpack(list(data))
