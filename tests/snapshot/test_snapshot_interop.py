"""Snapshots written by the Rust-core Blazen (vendored copies) load with the values listed."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import msgpack
import pytest

from blazen.events import StartEvent, inline_event_class
from blazen.snapshot import WorkflowSnapshot, decode_event
from blazen.values import StateValue

RUNNING = "blazen-0.6.74-running.json"
RUNNING_MSGPACK = "blazen-0.6.74-running.msgpack"
RUNNING_PRETTY = "blazen-0.6.74-running.pretty.json"
FANOUT = "blazen-0.6.74-fanout-pending.json"
COPIES = Path(__file__).resolve().parent / "golden" / "rust-core-0.6.74"
# pickle (protocol 4) of a __main__.Point(3, 4): kept as bytes, never unpickled on load.
POINT = bytes.fromhex(
    "8004952a000000000000008c085f5f6d61696e5f5f948c05506f696e749493942981947d94"
    "288c0178944b038c0179944b0475622e"
)


def check_running(snap: WorkflowSnapshot) -> None:
    assert snap.version == 1
    assert snap.workflow_name == "interop-demo"
    assert snap.run_id == "ae43f6b2-b52b-4d90-b30b-5cf46804649d"
    assert snap.timestamp == "2026-11-24T10:04:32.374158879Z"
    assert snap.context_state == {
        "user_id": StateValue.Json("user_123"),
        "doc_count": StateValue.Json(5),
        "ratio": StateValue.Json(0.25),
        "flag": StateValue.Json(True),
        "nothing": StateValue.Json(None),
        "cfg": StateValue.Json(
            {"retries": 3, "tags": ["a", "b"], "nested": {"k": [1, 2, {"z": None}]}}
        ),
        "unicode": StateValue.Json("héllo ✓ 日本"),
        "model-weights": StateValue.Bytes(bytes(range(256))),
        "empty-bytes": StateValue.Bytes(b""),
        "point": StateValue.Native(POINT),
    }
    flag, count = snap.context_state["flag"], snap.context_state["doc_count"]
    assert isinstance(flag, StateValue.Json)
    assert flag.value is True
    assert isinstance(count, StateValue.Json)
    assert type(count.value) is int
    point = snap.context_state["point"]
    assert isinstance(point, StateValue.Native)
    assert type(point.data) is bytes
    assert point.data == POINT
    assert snap.pending_events == []
    assert snap.metadata == {"run_id": snap.run_id, "workflow_name": "interop-demo"}
    assert snap.collected_events == {
        "blazen::StartEvent": [{"data": {"limit": 10, "query": "hello"}}],
        "Next": [{"n": 1}],
    }
    start = decode_event("blazen::StartEvent", snap.collected_events["blazen::StartEvent"][0], {})
    assert type(start) is StartEvent
    assert start.to_dict() == {"limit": 10, "query": "hello"}
    nxt = decode_event("Next", snap.collected_events["Next"][0], {})
    assert type(nxt) is inline_event_class("Next")
    assert nxt.to_dict() == {"n": 1}


def check_fanout(snap: WorkflowSnapshot) -> None:
    assert (snap.version, snap.workflow_name) == (1, "interop-fanout")
    assert snap.run_id == "b6265e6c-1a7d-45a0-b370-0c1e02638c83"
    assert snap.timestamp == "2026-11-24T10:04:39.024137122Z"
    assert snap.context_state == {
        "total": StateValue.Json(3),
        "blob": StateValue.Bytes(b"\x00\xffblazen\x00"),
    }
    items = [decode_event("Item", d, {}) for d in snap.collected_events["Item"]]
    assert [(e.event_type, e.to_dict()) for e in items] == [
        ("Item", {"i": 0, "label": "a"}),
        ("Item", {"i": 1, "label": "b"}),
        ("Item", {"i": 2, "label": "c"}),
    ]
    start = decode_event("blazen::StartEvent", snap.collected_events["blazen::StartEvent"][0], {})
    assert isinstance(start, StartEvent)
    assert start.to_dict() == {"batch": "b1"}
    assert snap.pending_events == []
    assert snap.metadata == {"workflow_name": "interop-fanout", "run_id": snap.run_id}


CHECKS = {RUNNING: check_running, FANOUT: check_fanout}
SHA256 = {
    FANOUT: "074e436c6087d912af49bbb9d41ce1be6183debb82b57a79a0db5abef138ae6f",
    RUNNING: "0cbefef4a3150b1a118bc53ef0fe97ea6ff5cc85af038e7d0d9a156a65c2e32a",
    RUNNING_MSGPACK: "1e3f0c73c4fb30a50aec66a5feb656a94598263ab58cc747316856a14d985a21",
    RUNNING_PRETTY: "f5e49b777c50a4ab68139b3a831f70cf64dbdd65763e8c6f3a2e5edbed8bef68",
    "blazen-0.6.74-waiting-input.json": (
        "b081108e7c510533bd5f7182fb14b05ab747fc723b4aebca099c78ff4ece1a5e"
    ),
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_vendored_vectors_are_the_files_the_rust_core_wrote(name: str) -> None:
    """The copies are exact (an editor adding a final newline would break the byte tests)."""
    assert hashlib.sha256((COPIES / name).read_bytes()).hexdigest() == SHA256[name]


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_rust_json_loads_with_the_listed_values(name: str) -> None:
    text = (COPIES / name).read_text(encoding="utf-8")
    CHECKS[name](WorkflowSnapshot.from_json(text))
    CHECKS[name](WorkflowSnapshot.load(text.encode("utf-8")))
    CHECKS[name](WorkflowSnapshot.load(text))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_our_json_is_the_rust_cores_json(name: str) -> None:
    """Re-writing a Rust-core snapshot gives back its exact text, so Rust can read ours."""
    text = (COPIES / name).read_text(encoding="utf-8")
    assert WorkflowSnapshot.from_json(text).to_json() == text


def test_our_pretty_json_is_the_rust_cores_pretty_json() -> None:
    text = (COPIES / RUNNING_PRETTY).read_text(encoding="utf-8")
    snap = WorkflowSnapshot.from_json(text)
    check_running(snap)
    assert snap.to_json_pretty() == text


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_rust_snapshot_survives_our_msgpack(name: str) -> None:
    snap = WorkflowSnapshot.from_json((COPIES / name).read_text(encoding="utf-8"))
    for data in (snap.to_bytes(), snap.to_msgpack()):
        again = WorkflowSnapshot.from_bytes(data)
        assert again == snap
        CHECKS[name](again)
    assert json.loads(again.to_json()) == json.loads((COPIES / name).read_text(encoding="utf-8"))


def rust_msgpack() -> bytes:
    return (COPIES / RUNNING_MSGPACK).read_bytes()


def test_rust_msgpack_has_a_binary_run_id_and_string_metadata_run_id() -> None:
    """What the vector's README says about it, checked on the bytes themselves."""
    raw = msgpack.unpackb(rust_msgpack(), raw=False)
    assert raw["run_id"] == uuid.UUID("ae43f6b2-b52b-4d90-b30b-5cf46804649d").bytes
    assert raw["metadata"]["run_id"] == "ae43f6b2-b52b-4d90-b30b-5cf46804649d"
    assert raw["context_state"]["model-weights"] == {"Bytes": bytes(range(256))}
    assert raw["context_state"]["point"] == {"Native": POINT}


@pytest.mark.parametrize("form", [bytes, bytearray, memoryview, list, tuple])
def test_rust_msgpack_loads_from_every_accepted_form(form: Any) -> None:
    check_running(WorkflowSnapshot.from_msgpack(form(rust_msgpack())))


def test_rust_msgpack_loads_through_every_reader() -> None:
    check_running(WorkflowSnapshot.from_bytes(rust_msgpack()))
    check_running(WorkflowSnapshot.load(rust_msgpack()))
    assert WorkflowSnapshot.from_msgpack(rust_msgpack()) == WorkflowSnapshot.from_json(
        (COPIES / RUNNING).read_text(encoding="utf-8")
    )


def test_rust_msgpack_rewritten_by_us_is_byte_identical() -> None:
    """Our writer produces the Rust core's own bytes: run id as bin 16, payloads as bin."""
    snap = WorkflowSnapshot.from_msgpack(rust_msgpack())
    assert snap.to_msgpack() == rust_msgpack()
    assert snap.to_bytes() == rust_msgpack()  # no bytes inside events or metadata here
    assert isinstance(snap.to_msgpack(), bytes)


def test_rust_spelling_methods_return_what_the_rust_core_returns() -> None:
    """Values printed by blazen 0.6.74's methods for this snapshot (see README.md)."""
    snap = WorkflowSnapshot.from_msgpack(rust_msgpack())
    state = snap.context_state()
    assert type(state) is dict
    assert state == snap.context_state
    assert state is not snap.context_state()
    assert state["model-weights"].as_bytes() == bytes(range(256))
    assert state["point"].as_native() == POINT
    assert state["cfg"].as_json() == {
        "retries": 3,
        "tags": ["a", "b"],
        "nested": {"k": [1, 2, {"z": None}]},
    }
    assert snap.collected_events() == {
        "blazen::StartEvent": [{"data": {"limit": 10, "query": "hello"}}],
        "Next": [{"n": 1}],
    }
    assert snap.pending_events() == []
    assert snap.metadata() == {
        "workflow_name": "interop-demo",
        "run_id": "ae43f6b2-b52b-4d90-b30b-5cf46804649d",
    }
    assert repr(snap) == (
        'WorkflowSnapshot(workflow_name="interop-demo", '
        "run_id=ae43f6b2-b52b-4d90-b30b-5cf46804649d, version=1, pending=0, refs=10)"
    )
