"""Snapshots written by the Rust-core Blazen load with exactly the values their README lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blazen.events import StartEvent, inline_event_class
from blazen.snapshot import WorkflowSnapshot, decode_event
from blazen.values import StateValue

RUNNING = "blazen-0.6.74-running.json"
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


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_shared_interop_files_load(interop_dir: Path, name: str) -> None:
    text = (interop_dir / name).read_text(encoding="utf-8")
    CHECKS[name](WorkflowSnapshot.from_json(text))
    CHECKS[name](WorkflowSnapshot.load(text.encode("utf-8")))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_committed_copies_match_shared(interop_dir: Path, name: str) -> None:
    assert (COPIES / name).read_bytes() == (interop_dir / name).read_bytes()


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_committed_copies_load(name: str) -> None:
    CHECKS[name](WorkflowSnapshot.from_json((COPIES / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_our_json_is_the_rust_cores_json(name: str) -> None:
    """Re-writing a Rust-core snapshot gives back its exact text, so Rust can read ours."""
    text = (COPIES / name).read_text(encoding="utf-8")
    assert WorkflowSnapshot.from_json(text).to_json() == text


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_rust_snapshot_survives_msgpack(name: str) -> None:
    snap = WorkflowSnapshot.from_json((COPIES / name).read_text(encoding="utf-8"))
    again = WorkflowSnapshot.from_bytes(snap.to_bytes())
    assert again == snap
    CHECKS[name](again)
    assert json.loads(again.to_json()) == json.loads((COPIES / name).read_text(encoding="utf-8"))
