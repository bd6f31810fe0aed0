"""Golden files of format version 1: they must load, with these values, in every future blazen."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from blazen.errors import SnapshotError
from blazen.events import Event, InputRequestEvent, StartEvent, StopEvent
from blazen.snapshot import SNAPSHOT_VERSION, WorkflowSnapshot, decode_event
from blazen.values import StateValue

HERE = Path(__file__).resolve().parent
V1 = HERE / "golden" / "v1"
KEY = b"blazen-golden-key"
RUN_ID = "00000000-0000-4000-8000-000000000001"
NATIVE_PAIR = bytes.fromhex("8005950b000000000000004b018c0374776f9486942e")


class Analyze(Event):
    text: str
    score: float


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "golden" / "make_golden.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_full(snap: WorkflowSnapshot) -> None:
    assert snap.version == 1
    assert (snap.workflow_name, snap.run_id) == ("golden-v1", RUN_ID)
    assert snap.timestamp == "2026-01-02T03:04:05.123456789Z"
    assert snap.context_state == {
        "str": StateValue.Json("héllo ✓ 日本"),
        "int": StateValue.Json(42),
        "i64min": StateValue.Json(-(2**63)),
        "u64max": StateValue.Json(2**64 - 1),
        "float": StateValue.Json(0.25),
        "bool": StateValue.Json(True),
        "null": StateValue.Json(None),
        "nested": StateValue.Json({"a": [1, 2.5, {"b": None}], "$blazen": "not a tag here"}),
        "bytes": StateValue.Bytes(bytes(range(256))),
        "empty": StateValue.Bytes(b""),
        "native": StateValue.Native(NATIVE_PAIR),
    }
    assert pickle.loads(snap.context_state["native"].as_native()) == (1, "two")
    assert snap.metadata == {
        "workflow_name": "golden-v1",
        "run_id": RUN_ID,
        "custom": {"k": [1, "two"]},
    }
    assert snap.collected_events["Item"] == [{"i": 0, "label": "a"}, {"i": 1, "label": "b"}]
    (start_data,) = snap.collected_events["blazen::StartEvent"]
    assert start_data == {"data": {"query": "hello", "limit": 10}}
    start = decode_event("blazen::StartEvent", start_data, {})
    assert type(start) is StartEvent
    assert start.to_dict() == {"query": "hello", "limit": 10}
    check_full_pending(snap)


def check_full_pending(snap: WorkflowSnapshot) -> None:
    kinds = [(e.event_type, e.source_step) for e in snap.pending_events]
    assert kinds == [
        ("Analyze", "analyze"),
        ("Inline", None),
        ("blazen::InputRequestEvent", "ask"),
        ("blazen::StopEvent", "end"),
    ]
    events = [decode_event(e.event_type, e.data, {"Analyze": Analyze}) for e in snap.pending_events]
    analyze, inline, request, stop = events
    assert type(analyze) is Analyze
    assert (analyze.text, analyze.score) == ("hi", 0.5)
    fields: dict[str, Any] = analyze.to_dict()
    assert fields["raw"] == b"\x00\x01"
    assert type(fields["raw"]) is bytes
    assert fields["pair"] == (1, "two")
    assert fields["esc"] == {"$blazen": 7}
    assert inline.event_type == "Inline"
    assert inline.to_dict() == {"note": "n", "blob": b"\xff"}
    assert isinstance(request, InputRequestEvent)
    assert (request.request_id, request.prompt, request.metadata) == ("q1", "ok?", {"m": 1})
    assert isinstance(stop, StopEvent)
    assert stop.result == {"answer": 42}


FULL = ["full.msgpack", "full-uuid.msgpack", "full-rust.msgpack", "full.json"]


@pytest.mark.parametrize("name", FULL)
def test_full_golden_loads(name: str) -> None:
    snap = WorkflowSnapshot.load((V1 / name).read_bytes())
    check_full(snap)
    if name.endswith(".msgpack"):
        assert WorkflowSnapshot.from_msgpack((V1 / name).read_bytes()) == snap


def test_all_golden_formats_hold_the_same_snapshot() -> None:
    from_json = WorkflowSnapshot.from_json((V1 / "full.json").read_text(encoding="utf-8"))
    for name in FULL:
        assert WorkflowSnapshot.load((V1 / name).read_bytes()) == from_json, name


@pytest.mark.parametrize(("legacy", "current"), sorted(load_generator().LEGACY.items()))
def test_legacy_golden_differs_from_its_twin_only_in_the_run_id_encoding(
    legacy: str, current: str
) -> None:
    """Old files hold the UUID run id as a str; the writer now writes its 16 bytes (bin)."""
    skip = 37 if legacy.startswith("signed") else 0  # the envelope's header and tag
    old, new = (V1 / legacy).read_bytes()[skip:], (V1 / current).read_bytes()[skip:]
    as_str = b"\xd9\x24" + RUN_ID.encode()  # str 8, 36 bytes
    as_bin = b"\xc4\x10" + bytes.fromhex(RUN_ID.replace("-", ""))  # bin 8, 16 bytes
    assert old.replace(as_str, as_bin, 1) == new
    assert new.count(as_str) == old.count(as_str) - 1  # metadata.run_id stays a str
    assert WorkflowSnapshot.from_bytes(old) == WorkflowSnapshot.from_bytes(new)


@pytest.mark.parametrize("name", ["signed.msgpack", "signed-uuid.msgpack", "signed.json"])
def test_signed_golden_loads_only_with_its_key(name: str) -> None:
    data = (V1 / name).read_bytes()
    snap = WorkflowSnapshot.load(data, key=KEY)
    assert (snap.workflow_name, snap.run_id) == ("tiny", RUN_ID)
    assert snap.context_state == {"n": StateValue.Json(1)}
    assert (snap.collected_events, snap.pending_events, snap.metadata) == ({}, [], {})
    with pytest.raises(SnapshotError, match="mismatch"):
        WorkflowSnapshot.load(data, key=b"another key")
    with pytest.raises(SnapshotError, match="signed"):
        WorkflowSnapshot.load(data)


def test_minimal_golden_has_defaults_for_optional_fields() -> None:
    snap = WorkflowSnapshot.from_bytes((V1 / "minimal.msgpack").read_bytes())
    assert (snap.workflow_name, snap.timestamp) == ("minimal", "2026-01-02T03:04:05Z")
    assert snap.context_state == {"b": StateValue.Bytes(b"\x01\x02")}
    assert (snap.collected_events, snap.pending_events, snap.metadata) == ({}, [], {})


@pytest.mark.skipif(
    SNAPSHOT_VERSION != 1, reason="the v1 writer is frozen only while v1 is current"
)
def test_writer_still_produces_the_golden_bytes() -> None:
    """Catches accidental format drift: the v1 writer must reproduce the committed files."""
    generator = load_generator()
    for name, data in generator.outputs().items():
        assert data == (V1 / name).read_bytes(), f"{name} drifted; see make_golden.py"
