"""Events and field values to snapshot data and back; the only place a snapshot unpickles.

An event is written as its field map. Each field value is written as it is when it is
JSON-compatible, as raw ``bytes`` when it is exactly ``bytes``, and otherwise as the tag
``{"$blazen": {"Native": <pickle bytes>}}``. A user dict that is exactly ``{"$blazen": x}``
is escaped as ``{"$blazen": {"Json": {"$blazen": x}}}``. ``StartEvent`` nests its fields
under ``"data"``, as the Rust core writes it. See ``docs/snapshot-format.md``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from blazen._jsoncopy import INT_MAX, INT_MIN, json_copy
from blazen.errors import SnapshotError
from blazen.events import (
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    inline_event_class,
)
from blazen.values import native_dumps

__all__ = [
    "START_EVENT_TYPE",
    "TAG",
    "decode_event",
    "decode_field_value",
    "encode_event",
    "encode_field_value",
    "is_tag",
]

TAG = "$blazen"
"""The one key of a tagged field value: ``{"$blazen": {"Json"|"Bytes"|"Native": payload}}``."""

START_EVENT_TYPE = StartEvent.event_type
"""The event type whose fields are nested one level down, under ``"data"``."""

_BUILTIN: dict[str, type[Event]] = {
    cls.event_type: cls for cls in (StartEvent, StopEvent, InputRequestEvent, InputResponseEvent)
}


def is_tag(value: Any) -> bool:
    """True when ``value`` is a ``{"$blazen": ...}`` tag (a dict with that one key)."""
    return type(value) is dict and len(value) == 1 and TAG in value


def encode_field_value(obj: Any) -> Any:
    """One field value in snapshot form: bytes as is, a JSON copy, or a pickled ``Native`` tag."""
    t = type(obj)
    if t is str or t is bool or obj is None or (t is int and INT_MIN <= obj <= INT_MAX):
        return obj  # a JSON scalar is its own snapshot form (the common case)
    if t is bytes:
        return obj
    if t is memoryview:
        return obj.tobytes()
    try:
        value = json_copy(obj)
    except ValueError:
        pass
    except RecursionError:
        raise SnapshotError("value is nested too deeply to encode") from None
    else:
        return {TAG: {"Json": value}} if is_tag(value) else value
    try:
        payload = native_dumps(obj)
    except Exception as exc:
        raise SnapshotError(
            f"a {type(obj).__name__} value is neither JSON-compatible, bytes, nor picklable: {exc}"
        ) from exc
    return {TAG: {"Native": payload}}


def decode_field_value(data: Any) -> Any:
    """Inverse of :func:`encode_field_value`; a ``Native`` tag is unpickled here (and only here)."""
    if type(data) is bytes:
        return data
    if is_tag(data):
        return _decode_tag(data[TAG])
    try:
        return json_copy(data)
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(f"not a snapshot field value: {exc}") from None


def _decode_tag(inner: Any) -> Any:
    if type(inner) is not dict or len(inner) != 1:
        raise SnapshotError(f"a {TAG!r} tag holds a map with one key: Json, Bytes or Native")
    ((kind, payload),) = inner.items()
    if kind == "Json":
        try:
            return json_copy(payload)
        except (ValueError, RecursionError) as exc:
            raise SnapshotError(f"Json tag payload is not JSON-compatible: {exc}") from None
    if kind not in ("Bytes", "Native"):
        raise SnapshotError(f"unknown {TAG!r} tag {kind!r}")
    if type(payload) is list:
        try:
            payload = bytes(payload)
        except (TypeError, ValueError):
            raise SnapshotError(f"{kind} payload is not a list of bytes 0..255") from None
    if type(payload) is not bytes:
        raise SnapshotError(f"{kind} payload must be bytes, not {type(payload).__name__}")
    if kind == "Bytes":
        return payload
    try:
        return pickle.loads(payload)
    except Exception as exc:
        raise SnapshotError(f"cannot unpickle a Native value: {type(exc).__name__}: {exc}") from exc


def encode_event(ev: Event) -> dict[str, Any]:
    """The event's field map in snapshot form; ``StartEvent`` gives ``{"data": {...}}``.

    Its fields are what ``iter(ev)`` gives (read here without that generator): the instance
    dict less names starting with ``_`` (attributes, not fields), then the extra fields.
    """
    fields: dict[str, Any] = {}
    name = ""
    try:
        for name, value in ev.__dict__.items():
            if name[:1] != "_":
                t = type(value)  # a JSON scalar is its own form (encode_field_value, inline)
                if t is str or value is None or (t is int and INT_MIN <= value <= INT_MAX):
                    fields[name] = value
                else:
                    fields[name] = encode_field_value(value)
        extra = ev.__pydantic_extra__
        if extra:
            for name, value in extra.items():
                fields[name] = encode_field_value(value)
    except SnapshotError as exc:
        raise SnapshotError(
            f"cannot encode field {name!r} of event {ev.event_type!r}: {exc}"
        ) from exc
    if ev.event_type == START_EVENT_TYPE:
        return {"data": fields}
    return fields


def decode_event(event_type: str, data: Any, classes: Mapping[str, type[Event]]) -> Event:
    """Build the event from its snapshot data: ``classes``, then built-ins, then an inline class."""
    if type(event_type) is not str or not event_type:
        raise SnapshotError(f"invalid event type {event_type!r}")
    cls = classes.get(event_type) or _BUILTIN.get(event_type) or inline_event_class(event_type)
    fields = data
    if event_type == START_EVENT_TYPE:
        if type(data) is not dict or set(data) != {"data"}:
            raise SnapshotError(f"event {event_type!r}: data must be {{'data': {{...}}}}")
        fields = data["data"]
    if type(fields) is not dict:
        raise SnapshotError(
            f"event {event_type!r}: fields must be a map, not {type(fields).__name__}"
        )
    try:
        decoded = {_field_name(k): decode_field_value(v) for k, v in fields.items()}
    except SnapshotError as exc:
        raise SnapshotError(f"cannot decode event {event_type!r}: {exc}") from exc
    try:
        return cls.model_validate(decoded)
    except Exception as exc:
        raise SnapshotError(
            f"cannot decode event {event_type!r} as {cls.__name__}: {type(exc).__name__}: {exc}"
        ) from exc


def _field_name(name: Any) -> str:
    if type(name) is not str:
        raise SnapshotError(f"field name {name!r} is not a str")
    return name
