"""Bad snapshots raise SnapshotError with the reason; loading never unpickles anything."""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import msgpack
import pytest

from blazen.errors import SnapshotError
from blazen.snapshot import SerializedEvent, WorkflowSnapshot, decode_event, decode_field_value
from blazen.values import StateValue

BASE: dict[str, Any] = {
    "version": 1,
    "workflow_name": "w",
    "run_id": "r",
    "timestamp": "2026-01-01T00:00:00Z",
    "context_state": {"k": {"Json": 1}, "b": {"Bytes": b"\x01"}},
    "collected_events": {"E": [{"x": 1}]},
    "pending_events": [{"event_type": "E", "data": {"x": b"\x00"}, "source_step": None}],
    "metadata": {"m": 1},
}

JSON_BASE = {**BASE, "context_state": {}, "pending_events": []}
UNPICKLED: list[str] = []


def _record_unpickle(what: str) -> str:
    UNPICKLED.append(what)
    return what


class Trap:
    """Unpickling this appends to ``UNPICKLED`` (a side effect a loader must never cause)."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_record_unpickle, ("trap",))


def packed(**changes: Any) -> bytes:
    data: bytes = msgpack.packb({**BASE, **changes}, use_bin_type=True)
    return data


def test_base_is_valid() -> None:
    snap = WorkflowSnapshot.from_bytes(packed())
    assert snap.pending_events == [SerializedEvent("E", {"x": b"\x00"})]


@pytest.mark.parametrize("version", [2, 7, 2**40])
def test_newer_version_is_rejected_with_the_reason(version: int) -> None:
    expected = re.escape(
        f"snapshot format version {version} is newer than this blazen supports (1)"
    )
    with pytest.raises(SnapshotError, match=expected):
        WorkflowSnapshot.from_bytes(packed(version=version))
    with pytest.raises(SnapshotError, match=expected):
        WorkflowSnapshot.from_json(json.dumps({"version": version, "layout": "unknown"}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": "1"}, "'version' must be an integer"),
        ({"version": 1.0}, "'version' must be an integer"),
        ({"version": True}, "'version' must be an integer"),
        ({"version": None}, "'version' must be an integer"),
        ({"version": 0}, "invalid snapshot format version 0"),
        ({"version": -3}, "invalid snapshot format version -3"),
        ({"workflow_name": None}, "'workflow_name' must be a string"),
        ({"run_id": b"r"}, "'run_id' as bin must be the 16 bytes of a UUID, not 1 bytes"),
        ({"run_id": bytes(17)}, "'run_id' as bin must be the 16 bytes of a UUID, not 17 bytes"),
        ({"run_id": 7}, "'run_id' must be a string or a 16-byte bin, not int"),
        ({"run_id": None}, "'run_id' must be a string or a 16-byte bin, not nil/null"),
        ({"timestamp": 1}, "'timestamp' must be a string"),
        ({"context_state": [1]}, "context_state must be a map"),
        ({"context_state": {"k": 1}}, "StateValue is a map with one key"),
        ({"context_state": {"k": {"Json": 1, "Bytes": b""}}}, "StateValue is a map with one key"),
        ({"context_state": {"k": {"Pickle": b""}}}, "unknown StateValue tag 'Pickle'"),
        ({"context_state": {"k": {"Bytes": [1, 2]}}}, "expected MessagePack bin"),
        ({"context_state": {"k": {"Native": "gASV"}}}, "expected MessagePack bin"),
        ({"context_state": {"k": {"Json": b"bin"}}}, "JSON-compatible"),
        ({"context_state": {"k": {"Json": float("nan")}}}, "finite"),
        ({"context_state": {b"k": {"Json": 1}}}, "not a string"),
        ({"collected_events": []}, "collected_events must be a map"),
        ({"collected_events": {"E": {"x": 1}}}, "must be an array"),
        ({"collected_events": {"E": [{"x": {"$blazen": {"Evil": 1}}}]}}, "unknown '\\$blazen' tag"),
        ({"pending_events": {}}, "pending_events must be an array"),
        ({"pending_events": [1]}, r"pending_events\[0\] must be a map"),
        ({"pending_events": [{"data": {}}]}, "event_type must be a non-empty string"),
        ({"pending_events": [{"event_type": "E"}]}, "has no 'data' field"),
        ({"pending_events": [{"event_type": "E", "data": {}, "source_step": 1}]}, "source_step"),
        ({"pending_events": [{"event_type": "E", "data": {"x": [b"\x00"]}}]}, "bytes"),
        ({"metadata": {"k": [float("inf")]}}, r"metadata\.k\[0\]: inf is not a finite"),
        ({"metadata": {"k": {1: 2}}}, "map key"),
        ({"metadata": None}, "metadata must be a map"),
    ],
)
def test_wrong_types_are_rejected_with_the_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        WorkflowSnapshot.from_bytes(packed(**changes))


@pytest.mark.parametrize(
    "name", ["version", "workflow_name", "run_id", "timestamp", "context_state"]
)
def test_required_fields(name: str) -> None:
    fields = {k: v for k, v in BASE.items() if k != name}
    with pytest.raises(SnapshotError, match=f"no '{name}' field"):
        WorkflowSnapshot.from_bytes(msgpack.packb(fields, use_bin_type=True))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([0, 256], "integers 0..255"),
        ([-1], "integers 0..255"),
        ([True, False], "integers 0..255"),
        ([1.0], "integers 0..255"),
        ("AAEC", "expected an array of integers"),  # base64 is not accepted
        (None, "expected an array of integers"),
    ],
)
def test_json_byte_arrays_are_strict(payload: Any, message: str) -> None:
    doc = {**JSON_BASE, "context_state": {"b": {"Bytes": payload}}}
    with pytest.raises(SnapshotError, match=message):
        WorkflowSnapshot.from_json(json.dumps(doc))


@pytest.mark.parametrize(
    "metadata",
    [
        {"k": {"$blazen": {"Native": [1]}}},
        {"k": {"$blazen": {"Bytes": "AAE="}}},
        {"k": {"$blazen": {"Json": 1}}},
        {"k": [{"$blazen": 1}]},
    ],
)
def test_json_metadata_tags_are_strict(metadata: dict[str, Any]) -> None:
    with pytest.raises(SnapshotError, match="metadata"):
        WorkflowSnapshot.from_json(json.dumps({**JSON_BASE, "metadata": metadata}))


# Any error of a corrupt or truncated snapshot says which of these it is.
CORRUPT = (
    r"(truncated or )?corrupt snapshot|snapshot has no '\w+' field|a snapshot is a map, not"
    r"|snapshot '\w+' must be"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", r"not valid JSON \(Expecting value"),
        ("{", r"not valid JSON \(Expecting property name"),
        ("[]", "a snapshot is a map, not an array"),
        ("null", "a snapshot is a map, not nil/null"),
        ("1", "a snapshot is a map, not int"),
        ('{"version": NaN}', "NaN is not allowed in a snapshot"),
        ('{"version": 1e999}', "snapshot 'version' must be an integer, not float"),
        ("{}", "snapshot has no 'version' field"),
        ("{} {}", r"not valid JSON \(Extra data"),
    ],
)
def test_bad_json_is_rejected(text: str, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        WorkflowSnapshot.from_json(text)


INCOMPLETE = r"not valid MessagePack \(Unpack failed: incomplete input\)"
EXTRA = "extra bytes after the MessagePack value"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", INCOMPLETE),
        (b"\xc1", "starts with 0xC1 but is not a signed envelope"),
        (b"\x80", "snapshot has no 'version' field"),
        (b"\x91\x01", "a snapshot is a map, not an array"),
        (b"\xa3abc", "a snapshot is a map, not a string"),
        (packed() + b"\x00", EXTRA),
        (b"\xd9", INCOMPLETE),
        (b"\xff" * 10, EXTRA),
    ],
)
def test_bad_msgpack_is_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        WorkflowSnapshot.from_bytes(data)


def test_every_truncation_is_rejected() -> None:
    data, text = packed(), WorkflowSnapshot.from_bytes(packed()).to_json()
    for end in range(len(data)):
        with pytest.raises(SnapshotError, match=CORRUPT):
            WorkflowSnapshot.from_bytes(data[:end])
    for end in range(len(text)):
        with pytest.raises(SnapshotError, match=CORRUPT):
            WorkflowSnapshot.load(text[:end])


def test_ext_types_are_rejected() -> None:
    ext = msgpack.ExtType(5, b"xx")
    with pytest.raises(SnapshotError, match=r"metadata\.k: ExtType is not JSON-compatible"):
        WorkflowSnapshot.from_bytes(packed(metadata={"k": ext}))


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(SnapshotError, match="not valid MessagePack"):
        WorkflowSnapshot.from_bytes(b"\x91" * 100_000 + b"\xc0")
    with pytest.raises(SnapshotError, match="JSON nested too deeply"):
        WorkflowSnapshot.from_json("[" * 100_000)
    base = json.dumps(JSON_BASE)[:-1]

    def nested(depth: int) -> str:
        return f'{base}, "metadata": {{"d": {"[" * depth}1{"]" * depth}}}}}'

    snap = WorkflowSnapshot.from_json(nested(100))
    assert WorkflowSnapshot.from_bytes(snap.to_bytes()) == snap
    for depth in (600, 990):  # around the interpreter's recursion limit: either is fine
        try:
            snap = WorkflowSnapshot.from_json(nested(depth))
        except SnapshotError:
            continue
        assert WorkflowSnapshot.from_bytes(snap.to_bytes()) == snap
    with pytest.raises(SnapshotError, match="nested too deeply"):
        WorkflowSnapshot.from_json(nested(5000))


def test_json_given_to_from_bytes_says_so() -> None:
    text = WorkflowSnapshot.from_bytes(packed()).to_json()
    with pytest.raises(SnapshotError, match="JSON snapshot"):
        WorkflowSnapshot.from_bytes(text.encode())


@pytest.mark.parametrize("obj", [None, 1, ["x"], {"version": 1}])
def test_wrong_input_types(obj: Any) -> None:
    with pytest.raises(SnapshotError, match=f"cannot load a snapshot from {type(obj).__name__}"):
        WorkflowSnapshot.load(obj)
    wrong = (
        "snapshot bytes as a sequence hold only integers 0..255"
        if isinstance(obj, list)
        else f"snapshot bytes expected, not {type(obj).__name__}"
    )
    with pytest.raises(SnapshotError, match=re.escape(wrong)):
        WorkflowSnapshot.from_bytes(obj)
    with pytest.raises(SnapshotError, match=re.escape(wrong)):
        WorkflowSnapshot.from_json(obj)


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(SnapshotError, match="UTF-8"):
        WorkflowSnapshot.from_json(b'{"version": 1, "x": "\xff"}')
    with pytest.raises(SnapshotError, match="'utf-8' codec can't decode byte 0xff"):
        WorkflowSnapshot.from_bytes(packed(workflow_name="ok").replace(b"ok", b"\xff\xfe"))


@pytest.mark.parametrize("fmt", ["bytes", "json"])
def test_loading_never_unpickles(fmt: str) -> None:
    trap = pickle.dumps(Trap(), protocol=5)
    snap = WorkflowSnapshot.new(
        "wf",
        "r",
        context_state={"trap": StateValue.Native(trap)},
        collected_events={"E": [{"t": {"$blazen": {"Native": trap}}}]},
        pending_events=[SerializedEvent("E", {"t": {"$blazen": {"Native": trap}}})],
    )
    data = snap.to_bytes() if fmt == "bytes" else snap.to_json()
    UNPICKLED.clear()
    again = WorkflowSnapshot.load(data)
    assert UNPICKLED == []
    native = again.context_state["trap"]
    assert isinstance(native, StateValue.Native)
    assert native.data == trap
    assert again.pending_events[0].data == {"t": {"$blazen": {"Native": trap}}}
    # unpickling happens only when the runtime decodes the event to dispatch it
    assert decode_event("E", again.pending_events[0].data, {}).to_dict() == {"t": "trap"}
    assert UNPICKLED == ["trap"]


def test_decode_value_of_a_failing_pickle_is_a_snapshot_error() -> None:
    with pytest.raises(SnapshotError, match="unpickle"):
        decode_field_value({"$blazen": {"Native": pickle.dumps(Trap())[:-3]}})
