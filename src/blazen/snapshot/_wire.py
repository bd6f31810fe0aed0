"""Checks and converts the parts of a snapshot between Python, MessagePack and JSON forms.

The *canonical* (in-memory and MessagePack) form keeps bytes as ``bytes``; the JSON form
writes them as arrays of integers 0..255 (``StateValue``) or as ``{"$blazen": {"Bytes": [..]}}``
(event field values). Every reader path goes through these checks, so a snapshot that loads
is well-formed all the way down; nothing here unpickles or imports anything.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from blazen._jsoncopy import json_copy
from blazen.errors import ContextError, SnapshotError
from blazen.snapshot.event_data import START_EVENT_TYPE, TAG, is_tag
from blazen.values import StateValue

__all__ = [
    "check_json",
    "event_data",
    "event_data_to_json",
    "kind",
    "plain",
    "plain_to_json",
    "run_id_from_msgpack",
    "run_id_to_msgpack",
    "state_value",
    "state_value_to_json",
    "wire_bytes",
]

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def run_id_to_msgpack(run_id: str) -> str | bytes:
    """A canonical UUID text as its 16 bytes (the Rust core's ``bin``); any other id as is."""
    if len(run_id) == 36 and _CANONICAL_UUID.match(run_id):
        return uuid.UUID(run_id).bytes
    return run_id


def run_id_from_msgpack(value: Any) -> str:
    """The run id from MessagePack: a str as is, a 16-byte ``bin`` as canonical UUID text."""
    if type(value) is str:
        return value
    if type(value) is bytes:
        if len(value) != 16:
            raise SnapshotError(
                f"snapshot 'run_id' as bin must be the 16 bytes of a UUID, not {len(value)} bytes"
            )
        return str(uuid.UUID(bytes=value))
    raise SnapshotError(f"snapshot 'run_id' must be a string or a 16-byte bin, not {kind(value)}")


def check_json(value: Any, path: str) -> Any:
    """A private copy of a JSON-compatible value, or ``SnapshotError`` naming where it is not."""
    try:
        return json_copy(value, path)
    except ValueError as exc:
        raise SnapshotError(f"{exc}") from None


def wire_bytes(payload: Any, path: str, from_json: bool) -> bytes:
    """A binary payload: MessagePack ``bin``, or (JSON) an array of integers 0..255."""
    if not from_json:
        if type(payload) is bytes:
            return payload
        raise SnapshotError(f"{path}: expected MessagePack bin, got {kind(payload)}")
    if type(payload) is not list:
        raise SnapshotError(f"{path}: expected an array of integers 0..255, got {kind(payload)}")
    if payload and not set(map(type, payload)) <= {int}:
        raise SnapshotError(f"{path}: a byte array holds only integers 0..255")
    try:
        return bytes(payload)
    except ValueError:
        raise SnapshotError(f"{path}: a byte array holds only integers 0..255") from None


def state_value(value: Any, path: str, from_json: bool) -> StateValue:
    """An externally tagged ``StateValue``: ``{"Json": v}``, ``{"Bytes": b}``, ``{"Native": b}``."""
    if type(value) is not dict or len(value) != 1:
        raise SnapshotError(f"{path}: a StateValue is a map with one key: Json, Bytes or Native")
    ((tag, payload),) = value.items()
    if tag == "Json":
        try:
            return StateValue.Json(payload)
        except ContextError as exc:
            raise SnapshotError(f"{path}.Json: {exc}") from None
    if tag == "Bytes":
        return StateValue.Bytes(wire_bytes(payload, f"{path}.Bytes", from_json))
    if tag == "Native":
        return StateValue.Native(wire_bytes(payload, f"{path}.Native", from_json))
    raise SnapshotError(f"{path}: unknown StateValue tag {tag!r} (expected Json, Bytes or Native)")


def state_value_to_json(value: StateValue) -> dict[str, Any]:
    """The JSON form of a ``StateValue`` (binary payloads as arrays of integers)."""
    if isinstance(value, StateValue.Json):
        return {"Json": value.value}
    if isinstance(value, StateValue.Bytes):
        return {"Bytes": list(value.data)}
    if isinstance(value, StateValue.Native):
        return {"Native": list(value.data)}
    raise SnapshotError(f"not a StateValue: {kind(value)}")


def event_data(event_type: str, data: Any, path: str, from_json: bool) -> Any:
    """The canonical form of one event's data, checked all the way down."""
    if type(data) is not dict:
        return check_json(data, path)
    if event_type == START_EVENT_TYPE and type(data.get("data")) is dict:
        return {
            k: _fields(v, f"{path}.data", from_json)
            if k == "data"
            else check_json(v, f"{path}.{k}")
            for k, v in data.items()
        }
    return _fields(data, path, from_json)


def _fields(fields: dict[Any, Any], path: str, from_json: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if type(name) is not str:
            raise SnapshotError(f"{path}: field name {name!r} is not a str")
        out[name] = _field_value(value, f"{path}.{name}", from_json)
    return out


def _field_value(value: Any, path: str, from_json: bool) -> Any:
    if type(value) is bytes:
        return value
    if not is_tag(value):
        return check_json(value, path)
    inner = value[TAG]
    if type(inner) is not dict or len(inner) != 1:
        raise SnapshotError(
            f"{path}: a {TAG!r} tag holds a map with one key: Json, Bytes or Native"
        )
    ((variant, payload),) = inner.items()
    if variant == "Json":
        return {TAG: {"Json": check_json(payload, f"{path}.{TAG}.Json")}}
    as_array = from_json or type(payload) is list  # MessagePack may hold either form
    if variant == "Bytes":
        return wire_bytes(payload, f"{path}.{TAG}.Bytes", as_array)
    if variant == "Native":
        return {TAG: {"Native": wire_bytes(payload, f"{path}.{TAG}.Native", as_array)}}
    raise SnapshotError(f"{path}: unknown {TAG!r} tag {variant!r} (expected Json, Bytes or Native)")


def event_data_to_json(event_type: str, data: Any) -> Any:
    """The JSON form of canonical event data (bytes become ``{"$blazen": {"Bytes": [..]}}``)."""
    if type(data) is not dict:
        return data
    if event_type == START_EVENT_TYPE and type(data.get("data")) is dict:
        return {k: _fields_to_json(v) if k == "data" else v for k, v in data.items()}
    return _fields_to_json(data)


def _fields_to_json(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if type(value) is bytes:
            value = {TAG: {"Bytes": list(value)}}
        elif is_tag(value) and "Native" in value[TAG]:
            value = {TAG: {"Native": list(value[TAG]["Native"])}}
        out[name] = value
    return out


def plain(value: Any, path: str, from_json: bool) -> Any:
    """A copy of a metadata value: JSON data with bytes allowed anywhere (tagged in JSON)."""
    t = type(value)
    if t is bytes and not from_json:
        return value
    if t is list:
        return [plain(v, f"{path}[{i}]", from_json) for i, v in enumerate(value)]
    if t is not dict:
        return check_json(value, path)
    if from_json and is_tag(value):
        return _untag_plain(value[TAG], f"{path}.{TAG}")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if type(k) is not str:
            raise SnapshotError(f"{path}: key {k!r} is not a string")
        out[k] = plain(v, f"{path}.{k}", from_json)
    return out


def _untag_plain(inner: Any, path: str) -> Any:
    if type(inner) is dict and len(inner) == 1:
        ((variant, payload),) = inner.items()
        if variant == "Bytes":
            return wire_bytes(payload, f"{path}.Bytes", True)
        if variant == "Json" and is_tag(payload):
            return {TAG: plain(payload[TAG], f"{path}.Json.{TAG}", True)}
    raise SnapshotError(f"{path}: expected {{'Bytes': [..]}} or {{'Json': {{{TAG!r}: ..}}}}")


def plain_to_json(value: Any) -> Any:
    """The JSON form of a :func:`plain` value: bytes tagged, ``{"$blazen": x}`` maps escaped."""
    t = type(value)
    if t is bytes:
        return {TAG: {"Bytes": list(value)}}
    if t is list:
        return [plain_to_json(v) for v in value]
    if t is not dict:
        return value
    out = {k: plain_to_json(v) for k, v in value.items()}
    return {TAG: {"Json": out}} if is_tag(value) else out


def kind(value: Any) -> str:
    """A short name for the type of a decoded value, for error messages."""
    names = {dict: "a map", list: "an array", str: "a string", bytes: "bin", bool: "a boolean"}
    if value is None:
        return "nil/null"
    return names.get(type(value), type(value).__name__)
