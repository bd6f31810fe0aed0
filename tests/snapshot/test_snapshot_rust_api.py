"""The Rust-core spellings of WorkflowSnapshot: methods for its parts, to/from_msgpack, pretty JSON.

The expected values of the method views are what blazen 0.6.74 (the Rust-core package)
returned for the same snapshots, checked with ``shared/tools/rust-peer``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import uuid
from typing import Any

import msgpack
import pytest

from blazen.errors import SnapshotError
from blazen.events import Event
from blazen.snapshot import SerializedEvent, WorkflowSnapshot, encode_event
from blazen.values import StateValue

RUN_ID = "0b9d7c2e-4a51-4c8e-9f3b-2d6e8a1c5f70"


class Ping(Event):
    x: int
    b: bytes = b""


def with_bytes_everywhere() -> WorkflowSnapshot:
    """Bytes in the context, in a pending and a collected event, and in metadata."""
    ping = encode_event(Ping(x=1, b=b"\x01\x02", obj=(1, 2)))
    return WorkflowSnapshot.new(
        "wf",
        RUN_ID,
        context_state={"b": StateValue.Bytes(b"\x00\xff"), "j": StateValue.Json({"k": [1]})},
        collected_events={"Ping": [ping], "blazen::StartEvent": [{"data": {"q": b"\x07"}}]},
        pending_events=[SerializedEvent("Ping", ping, "s"), SerializedEvent("Ping", {"x": 2})],
        metadata={"raw": b"\xff", "lit": {"$blazen": 7}},
    )


def test_parts_read_as_attributes_and_as_methods() -> None:
    snap = with_bytes_everywhere()
    assert snap.context_state["b"] == StateValue.Bytes(b"\x00\xff")
    assert snap.context_state() == {
        "b": StateValue.Bytes(b"\x00\xff"),
        "j": StateValue.Json({"k": [1]}),
    }
    assert snap.pending_events[0].event_type == "Ping"
    assert snap.pending_events[0].data["b"] == b"\x01\x02"
    assert snap.collected_events["Ping"][0]["x"] == 1
    assert snap.metadata["raw"] == b"\xff"


def test_method_views_are_the_rust_cores_json_views() -> None:
    """Bytes inside events and metadata read as the Rust core shows them: JSON tags."""
    snap = with_bytes_everywhere()
    pair = snap.pending_events[0].data["obj"]["$blazen"]["Native"]
    assert snap.pending_events() == [
        {
            "event_type": "Ping",
            "data": {
                "x": 1,
                "b": {"$blazen": {"Bytes": [1, 2]}},
                "obj": {"$blazen": {"Native": list(pair)}},
            },
            "source_step": "s",
        },
        {"event_type": "Ping", "data": {"x": 2}, "source_step": None},
    ]
    assert snap.collected_events() == {
        "Ping": [snap.pending_events()[0]["data"]],
        "blazen::StartEvent": [{"data": {"q": {"$blazen": {"Bytes": [7]}}}}],
    }
    assert snap.metadata() == {
        "workflow_name": "wf",
        "run_id": RUN_ID,
        "raw": {"$blazen": {"Bytes": [255]}},
        "lit": {"$blazen": {"Json": {"$blazen": 7}}},
    }
    assert json.loads(snap.to_json())["pending_events"] == snap.pending_events()


def test_method_views_are_fresh_copies() -> None:
    snap = with_bytes_everywhere()
    state, pending, meta = snap.context_state(), snap.pending_events(), snap.metadata()
    state.clear()
    pending[0]["data"]["x"] = 99
    meta["lit"]["$blazen"]["Json"]["$blazen"] = 8
    collected = snap.collected_events()
    collected["Ping"][0]["x"] = 99
    assert len(snap.context_state) == 2
    assert snap.pending_events[0].data["x"] == 1
    assert snap.collected_events["Ping"][0]["x"] == 1
    assert snap.metadata["lit"] == {"$blazen": 7}
    assert type(snap.context_state()) is dict
    assert type(snap.pending_events()) is list


def test_assigned_plain_containers_answer_both_spellings() -> None:
    snap = WorkflowSnapshot(1, "w", "r", "t", context_state={"n": StateValue.Json(1)})
    assert snap.context_state() == {"n": StateValue.Json(1)}
    assert (snap.collected_events(), snap.pending_events(), snap.metadata()) == ({}, [], {})
    snap.pending_events = [SerializedEvent("E", {"x": 1})]
    snap.metadata = {"k": 1}
    snap.collected_events = {"E": [{"x": 2}]}
    snap.context_state = {}
    assert snap.pending_events() == [{"event_type": "E", "data": {"x": 1}, "source_step": None}]
    assert snap.metadata() == {"k": 1}
    assert snap.collected_events() == {"E": [{"x": 2}]}
    assert snap.context_state() == {}
    again = WorkflowSnapshot(1, "w", "r", "t", {}, {"E": [{"x": 2}]}, snap.pending_events, {"k": 1})
    assert snap == again


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("context_state", 5, "'context_state' must be a mapping, not int"),
        ("collected_events", [], "'collected_events' must be a mapping, not list"),
        ("metadata", "m", "'metadata' must be a mapping, not str"),
        ("pending_events", {"E": 1}, "'pending_events' must be a list of SerializedEvent"),
        ("pending_events", 3, "'pending_events' must be a list of SerializedEvent, not int"),
    ],
)
def test_assigning_a_wrong_container_is_a_snapshot_error(
    name: str, value: Any, message: str
) -> None:
    snap = WorkflowSnapshot.new("w", "r")
    with pytest.raises(SnapshotError, match=message):
        setattr(snap, name, value)


def test_to_msgpack_returns_bytes_equal_to_to_bytes_without_bytes_in_events() -> None:
    """bytes is a Sequence[int] (the Rust stub's list[int]) that costs one byte per byte."""
    snap = WorkflowSnapshot.new(
        "wf", RUN_ID, context_state={"b": StateValue.Bytes(bytes(70_000))}, metadata={"m": [1]}
    )
    data = snap.to_msgpack()
    assert type(data) is bytes
    assert data == snap.to_bytes()
    assert data[0] == 0x88  # a Sequence[int]: a map of 8 entries


def test_to_msgpack_writes_bytes_in_events_and_metadata_as_json_tags() -> None:
    snap = with_bytes_everywhere()
    raw = msgpack.unpackb(snap.to_msgpack(), raw=False)
    assert raw["pending_events"] == snap.pending_events()
    assert raw["collected_events"] == snap.collected_events()
    assert raw["metadata"] == {**snap.metadata(), "blazen.tagged_metadata": True}
    assert raw["context_state"]["b"] == {"Bytes": b"\x00\xff"}  # context payloads stay bin
    fast = msgpack.unpackb(snap.to_bytes(), raw=False)
    assert fast["pending_events"][0]["data"]["b"] == b"\x01\x02"
    assert fast["metadata"]["raw"] == b"\xff"
    assert "blazen.tagged_metadata" not in fast["metadata"]


@pytest.mark.parametrize("write", ["to_msgpack", "to_bytes"])
def test_both_msgpack_forms_load_back_equal(write: str) -> None:
    snap = with_bytes_everywhere()
    data = getattr(snap, write)()
    for again in (
        WorkflowSnapshot.from_msgpack(data),
        WorkflowSnapshot.from_bytes(data),
        WorkflowSnapshot.load(data),
    ):
        assert again == snap
        assert "blazen.tagged_metadata" not in again.metadata
        assert again.pending_events[0].data["b"] == b"\x01\x02"


def test_metadata_is_marked_only_when_its_json_form_differs() -> None:
    plain = WorkflowSnapshot.new("wf", RUN_ID, metadata={"k": {"a": [1, None]}})
    assert msgpack.unpackb(plain.to_msgpack())["metadata"] == plain.metadata
    escaped = WorkflowSnapshot.new("wf", RUN_ID, metadata={"lit": {"$blazen": {"Json": 1}}})
    raw = msgpack.unpackb(escaped.to_msgpack())["metadata"]
    assert raw["lit"] == {"$blazen": {"Json": {"$blazen": {"Json": 1}}}}
    assert raw["blazen.tagged_metadata"] is True
    assert WorkflowSnapshot.from_msgpack(escaped.to_msgpack()) == escaped


def test_the_metadata_marker_is_reserved_and_must_be_a_boolean() -> None:
    snap = WorkflowSnapshot.new("wf", RUN_ID, metadata={"blazen.tagged_metadata": True})
    with pytest.raises(SnapshotError, match=r"'blazen\.tagged_metadata' is reserved"):
        snap.to_msgpack()
    raw = msgpack.unpackb(WorkflowSnapshot.new("wf", RUN_ID).to_msgpack())
    raw["metadata"]["blazen.tagged_metadata"] = "yes"
    with pytest.raises(SnapshotError, match="tagged_metadata must be a boolean"):
        WorkflowSnapshot.from_msgpack(msgpack.packb(raw, use_bin_type=True))


def test_a_canonical_uuid_run_id_is_written_as_its_16_bytes() -> None:
    snap = WorkflowSnapshot.new("wf", RUN_ID)
    for data in (snap.to_msgpack(), snap.to_bytes()):
        raw = msgpack.unpackb(data, raw=False)
        assert raw["run_id"] == uuid.UUID(RUN_ID).bytes
        assert raw["metadata"]["run_id"] == RUN_ID
        assert WorkflowSnapshot.from_msgpack(data).run_id == RUN_ID
    assert json.loads(snap.to_json())["run_id"] == RUN_ID


@pytest.mark.parametrize(
    "run_id", ["run-1", RUN_ID.upper(), RUN_ID.replace("-", ""), f"{{{RUN_ID}}}", RUN_ID + " ", ""]
)
def test_any_other_run_id_stays_a_string_and_round_trips_exactly(run_id: str) -> None:
    snap = WorkflowSnapshot.new("wf", run_id)
    assert msgpack.unpackb(snap.to_msgpack(), raw=False)["run_id"] == run_id
    assert WorkflowSnapshot.from_msgpack(snap.to_msgpack()).run_id == run_id


@pytest.mark.parametrize("form", [bytes, bytearray, memoryview, list, tuple])
def test_from_msgpack_accepts_bytes_like_and_int_sequences(form: Any) -> None:
    snap = with_bytes_everywhere()
    assert WorkflowSnapshot.from_msgpack(form(snap.to_msgpack())) == snap


@pytest.mark.parametrize("data", [[0x88, 256], [-1], [1.5], ["a"]])
def test_from_msgpack_rejects_sequences_that_are_not_bytes(data: list[Any]) -> None:
    with pytest.raises(SnapshotError, match=r"sequence hold only integers 0\.\.255"):
        WorkflowSnapshot.from_msgpack(data)


def test_to_json_pretty_is_indented_and_reads_back() -> None:
    snap = WorkflowSnapshot.new(
        "wf", RUN_ID, context_state={"b": StateValue.Bytes(b"\x01")}, timestamp="t"
    )
    text = snap.to_json_pretty()
    assert text.startswith('{\n  "version": 1,\n  "workflow_name": "wf",\n')
    assert '"b": {\n      "Bytes": [\n        1\n      ]\n    }' in text
    assert json.loads(text) == json.loads(snap.to_json())
    assert WorkflowSnapshot.from_json(text) == snap
    signed = snap.to_json_pretty(key="k")
    assert signed.startswith('{"blazen_hmac_sha256":"')
    assert WorkflowSnapshot.load(signed, key="k") == snap
    with pytest.raises(SnapshotError, match="mismatch"):
        WorkflowSnapshot.load(signed, key="other")


def test_from_json_takes_the_rust_cores_parameter_name() -> None:
    snap = WorkflowSnapshot.new("wf", RUN_ID)
    assert WorkflowSnapshot.from_json(json=snap.to_json()) == snap
    assert WorkflowSnapshot.from_msgpack(data=list(snap.to_msgpack())) == snap


def test_copies_and_pickles_keep_both_spellings() -> None:
    snap = with_bytes_everywhere()
    for again in (
        pickle.loads(pickle.dumps(snap)),
        copy.deepcopy(snap),
        dataclasses.replace(snap, run_id="other"),
    ):
        assert again.pending_events() == snap.pending_events()
        assert again.context_state() == snap.context_state()
        assert again.metadata["raw"] == b"\xff"
    assert dataclasses.replace(snap, run_id="other").run_id == "other"
