"""Event encoding: typed, inline, Start/Stop/Input events, bytes and non-JSON fields, escapes."""

from __future__ import annotations

import datetime
import fractions
from typing import Any

import pytest

from blazen.errors import SnapshotError
from blazen.events import (
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    inline_event_class,
)
from blazen.session_refs import SessionRefRegistry, using_registry
from blazen.snapshot import (
    SerializedEvent,
    WorkflowSnapshot,
    decode_event,
    decode_field_value,
    encode_event,
    encode_field_value,
)


class Analyze(Event):
    text: str
    score: float


class Blob(Event):
    data: bytes
    when: datetime.date
    ratio: fractions.Fraction


def through_snapshot(ev: Event, fmt: str, classes: dict[str, type[Event]]) -> Event:
    """Encode ``ev``, write and read it as a pending event in ``fmt``, and decode it."""
    snap = WorkflowSnapshot.new(
        "wf", "r", pending_events=[SerializedEvent(ev.event_type, encode_event(ev))]
    )
    again = (
        WorkflowSnapshot.from_bytes(snap.to_bytes())
        if fmt == "bytes"
        else WorkflowSnapshot.from_json(snap.to_json())
    )
    (pending,) = again.pending_events
    return decode_event(pending.event_type, pending.data, classes)


with using_registry(SessionRefRegistry()):  # bytes and objects in events: inside a run
    EVENTS: list[Event] = [
        Analyze(text="hi", score=0.5),
        Analyze(text="x", score=1.0, extra=[1, {"a": None}]),
        Blob(data=b"\x00\xff", when=datetime.date(2026, 1, 2), ratio=fractions.Fraction(1, 3)),
        Event("Inline", note="n", raw=b"\x01", pair=(1, 2), nested={"$blazen": {"x": 1}}),
        StartEvent(query="hello", limit=10, blob=b"\x02", obj={1, 2}),
        StartEvent(),
        StopEvent(result={"answer": [1, 2]}),
        StopEvent(result=b"bytes"),
        StopEvent(result=complex(1, 2)),
        StopEvent(),
        InputRequestEvent(request_id="q", prompt="?", metadata={"m": [1]}),
        InputResponseEvent(request_id="q", response=("tuple", 1)),
    ]


@pytest.mark.parametrize("fmt", ["bytes", "json"])
@pytest.mark.parametrize("ev", EVENTS, ids=lambda e: e.event_type)
def test_events_round_trip(ev: Event, fmt: str) -> None:
    again = through_snapshot(ev, fmt, {"Analyze": Analyze, "Blob": Blob})
    assert type(again) is type(ev)
    assert again.event_type == ev.event_type
    assert again.to_dict() == ev.to_dict()
    for name, value in ev:
        assert type(getattr(again, name)) is type(value)


def test_start_event_nests_its_fields_under_data() -> None:
    assert encode_event(StartEvent(query="hello", limit=10)) == {
        "data": {"query": "hello", "limit": 10}
    }
    ev = decode_event("blazen::StartEvent", {"data": {"query": "hello"}}, {})
    assert type(ev) is StartEvent
    assert ev.query == "hello"


def test_stop_event_encodes_its_result() -> None:
    assert encode_event(StopEvent(result=[1, "a"])) == {"result": [1, "a"]}
    assert encode_event(StopEvent(result=b"\x00")) == {"result": b"\x00"}


def test_field_encoding_rules() -> None:
    ev = Event("E", j={"a": [1]}, b=b"\x00", n=(1,), esc={"$blazen": 5}, mv=memoryview(b"mv"))
    data = encode_event(ev)
    assert data["j"] == {"a": [1]}
    assert data["b"] == b"\x00"
    assert set(data["n"]) == {"$blazen"}
    assert set(data["n"]["$blazen"]) == {"Native"}
    assert data["esc"] == {"$blazen": {"Json": {"$blazen": 5}}}
    assert data["mv"] == b"mv"
    assert decode_event("E", data, {}).to_dict()["esc"] == {"$blazen": 5}


def test_json_values_are_copied_both_ways() -> None:
    items = [1, 2]
    encoded = encode_field_value(items)
    items.append(3)
    assert encoded == [1, 2]
    decoded = decode_field_value(encoded)
    decoded.append(4)
    assert encoded == [1, 2]


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        1,
        -(2**63),
        2**64 - 1,
        2**64,
        1.5,
        float("inf"),
        "s",
        b"b",
        bytearray(b"ba"),
        [1, b"x"],
        {"k": "v"},
        {1: "int key"},
        {"$blazen": 1},
        (1, 2),
        {1, 2},
        datetime.date.today(),
    ],
)
def test_encode_value_then_decode_value_is_identity(value: Any) -> None:
    again = decode_field_value(encode_field_value(value))
    assert again == value
    assert type(again) is type(value)


class Holder(Event):
    v: Any
    w: int = 0


@pytest.mark.parametrize(
    "value",
    [None, True, 0, "s", -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 1.5, b"b", [1], {"$blazen": 1}],
)
def test_an_events_fields_encode_as_each_value_does(value: Any) -> None:
    """Including the fast path for scalars, extra fields, and what is in the instance's
    ``__dict__`` without being a field (left out, as ``iter(event)`` leaves it out)."""
    ev = Holder.model_validate({"v": value, "extra": value})
    object.__setattr__(ev, "_hidden", 3)
    expected = {"v": encode_field_value(value), "w": 0, "extra": encode_field_value(value)}
    assert encode_event(ev) == expected
    assert encode_event(ev) == {name: encode_field_value(v) for name, v in ev}


@pytest.mark.parametrize("where", ["v", "extra"])
def test_a_field_that_cannot_be_encoded_is_named(where: str) -> None:
    ev = Holder.model_validate({"v": 1, where: lambda: 1})  # a lambda does not pickle
    with pytest.raises(SnapshotError, match=f"cannot encode field '{where}' of event 'Holder'"):
        encode_event(ev)


@pytest.mark.parametrize("fmt", ["bytes", "json"])
def test_encoded_events_may_live_in_metadata(fmt: str) -> None:
    """The runtime keeps events waiting for input in metadata; any field value survives."""
    ev = InputRequestEvent(request_id="q", metadata={"when": datetime.date(2026, 1, 2)})
    waiting = [{"request_id": "q", "source_step": "ask", "event": encode_event(ev)}]
    snap = WorkflowSnapshot.new("wf", "r", metadata={"blazen.waiting": waiting})
    again = (
        WorkflowSnapshot.from_bytes(snap.to_bytes())
        if fmt == "bytes"
        else WorkflowSnapshot.from_json(snap.to_json())
    )
    (entry,) = again.metadata["blazen.waiting"]
    decoded = decode_event("blazen::InputRequestEvent", entry["event"], {})
    assert isinstance(decoded, InputRequestEvent)
    assert decoded.metadata == {"when": datetime.date(2026, 1, 2)}


def test_inline_and_unknown_types_decode_to_inline_classes() -> None:
    ev = decode_event("Surprise", {"a": 1}, {})
    assert type(ev) is inline_event_class("Surprise")
    assert ev.a == 1
    assert type(decode_event("Analyze", {"text": "t", "score": 1}, {})) is inline_event_class(
        "Analyze"
    )


@pytest.mark.parametrize(
    "event_type", ["blazen::StopEvent", "blazen::InputRequestEvent", "blazen::InputResponseEvent"]
)
def test_builtin_events_are_always_known(event_type: str) -> None:
    data = {"request_id": "q"} if "Input" in event_type else {}
    assert decode_event(event_type, data, {}).event_type == event_type


def test_encode_unpicklable_field_names_event_and_field() -> None:
    with pytest.raises(SnapshotError, match=r"field 'fn' of event 'E'"):
        encode_event(Event("E", fn=lambda: 1))


@pytest.mark.parametrize(
    ("event_type", "data", "classes"),
    [
        ("Analyze", {"text": "t"}, {"Analyze": Analyze}),  # missing field
        ("Analyze", {"text": "t", "score": "high"}, {"Analyze": Analyze}),
        ("Analyze", ["not", "a", "map"], {"Analyze": Analyze}),
        ("blazen::StartEvent", {"query": "no data wrapper"}, {}),
        ("blazen::StartEvent", {"data": [1]}, {}),
        ("blazen::InputRequestEvent", {}, {}),
        ("E", {"x": {"$blazen": {"Native": b"not a pickle"}}}, {}),
        ("E", {"x": {"$blazen": {"Native": "str"}}}, {}),
        ("E", {"x": {"$blazen": {"Weird": 1}}}, {}),
        ("E", {"x": {"$blazen": [1]}}, {}),
        ("E", {1: "int field name"}, {}),
        ("E", {"x": {1, 2}}, {}),
    ],
)
def test_decode_failures_raise_snapshot_error_naming_the_type(
    event_type: str, data: Any, classes: dict[str, type[Event]]
) -> None:
    with pytest.raises(SnapshotError, match=event_type):
        decode_event(event_type, data, classes)


def test_decode_event_rejects_empty_type() -> None:
    with pytest.raises(SnapshotError, match="invalid event type"):
        decode_event("", {}, {})
