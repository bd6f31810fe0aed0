"""MessagePack and JSON encodings of a snapshot's parts: strict readers, a copy-lean writer.

Readers check the whole structure after decoding and turn every failure into
``SnapshotError``; they never unpickle and never import by a name found in the data.
The MessagePack writer hands large binary payloads to one final ``b"".join`` instead of
copying them into msgpack's buffer first, so a 100 MB blob is copied exactly once.
This module knows the parts (``_structure.Parts``), not the ``WorkflowSnapshot`` class.
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import msgpack

from blazen.errors import SnapshotError
from blazen.snapshot import _structure, _wire, sign
from blazen.snapshot._structure import Checked, Parts, SnapshotFields
from blazen.values import StateValue

__all__ = ["FIELDS", "read_any", "read_json", "read_msgpack", "write_json", "write_msgpack"]

FIELDS = Parts._fields
"""The top-level keys, in the order they are written."""

_JOIN_MIN = 1 << 16  # binary payloads this large skip msgpack's buffer (one copy, not two)
_T = TypeVar("_T")
_P = ParamSpec("_P")


def _guarded(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """Let only ``SnapshotError`` out: deep nesting and anything unforeseen are reported as it."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return fn(*args, **kwargs)
        except SnapshotError:
            raise
        except RecursionError:
            raise SnapshotError("snapshot is nested too deeply") from None
        except Exception as exc:
            raise SnapshotError(f"invalid snapshot: {type(exc).__name__}: {exc}") from exc

    return wrapper


@_guarded
def write_msgpack(snap: SnapshotFields, key: sign.Key = None, *, portable: bool = False) -> bytes:
    """The MessagePack bytes of ``snap`` (signed when a key is given or in the environment).

    ``portable`` writes bytes inside event data and metadata as JSON tags, so that the
    Rust core (which holds those parts as JSON values) can read them.
    """
    checked = _structure.check_for_write(snap)
    parts = _pack_parts(snap, _portable(checked) if portable else checked)
    secret = sign.resolve_key(key)
    if secret is not None:
        parts = sign.sign_parts(secret, parts)
    return b"".join(parts)


def _portable(checked: Checked) -> Checked:
    """Event data and metadata in their JSON form; metadata marked when that changed it."""
    collected, pending, metadata = checked
    tagged: dict[str, Any] = _wire.plain_to_json(metadata)
    if tagged != metadata:
        tagged[_structure.TAGGED_METADATA_KEY] = True
    return (
        {t: [_wire.event_data_to_json(t, d) for d in datas] for t, datas in collected.items()},
        [{**ev, "data": _wire.event_data_to_json(ev["event_type"], ev["data"])} for ev in pending],
        tagged,
    )


@_guarded
def write_json(snap: SnapshotFields, key: sign.Key = None, *, indent: int | None = None) -> str:
    """The Rust-compatible JSON text of ``snap`` (signed when a key is available).

    Compact by default, like the Rust core's ``to_json``; ``indent=2`` is its ``to_json_pretty``.
    """
    collected, pending, metadata = _structure.check_for_write(snap)
    obj = {
        "version": snap.version,
        "workflow_name": snap.workflow_name,
        "run_id": snap.run_id,
        "timestamp": snap.timestamp,
        "context_state": {k: _wire.state_value_to_json(v) for k, v in snap.context_state.items()},
        "collected_events": {
            t: [_wire.event_data_to_json(t, d) for d in evs] for t, evs in collected.items()
        },
        "pending_events": [
            {**ev, "data": _wire.event_data_to_json(ev["event_type"], ev["data"])} for ev in pending
        ],
        "metadata": _wire.plain_to_json(metadata),
    }
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(
        obj, ensure_ascii=False, allow_nan=False, indent=indent, separators=separators
    )
    secret = sign.resolve_key(key)
    return text if secret is None else sign.sign_text(secret, text)


@_guarded
def read_msgpack(data: Any, key: sign.Key = None) -> Parts:
    """Read MessagePack snapshot bytes (signed or not), or a sequence of ints 0..255."""
    view = _view(data)
    if _looks_like_json(view):
        raise SnapshotError("this is a JSON snapshot, not MessagePack: use from_json() or load()")
    payload = sign.open_bytes(view, sign.resolve_key(key))
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=True, use_list=True)
    except msgpack.ExtraData:
        raise SnapshotError("corrupt snapshot: extra bytes after the MessagePack value") from None
    except Exception as exc:
        raise SnapshotError(
            f"truncated or corrupt snapshot: not valid MessagePack ({exc})"
        ) from None
    return _structure.build(obj, from_json=False)


@_guarded
def read_json(text: Any, key: sign.Key = None) -> Parts:
    """Read a JSON snapshot (``str``, or UTF-8 bytes), signed or not."""
    if not isinstance(text, str):
        try:
            text = str(_view(text), "utf-8")
        except UnicodeDecodeError as exc:
            raise SnapshotError(f"corrupt snapshot: JSON text is not UTF-8 ({exc})") from None
    payload = sign.open_text(text, sign.resolve_key(key))
    try:
        obj = json.loads(payload, parse_constant=_reject_constant)
    except RecursionError:
        raise SnapshotError("corrupt snapshot: JSON nested too deeply") from None
    except ValueError as exc:
        raise SnapshotError(f"truncated or corrupt snapshot: not valid JSON ({exc})") from None
    return _structure.build(obj, from_json=True)


@_guarded
def read_any(obj: Any, key: sign.Key = None) -> Parts:
    """Read MessagePack or JSON bytes (JSON when the first non-blank byte is ``{``) or JSON text."""
    if isinstance(obj, str):
        return read_json(obj, key)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        view = _view(obj)
        return read_json(view, key) if _looks_like_json(view) else read_msgpack(view, key)
    raise SnapshotError(f"cannot load a snapshot from {type(obj).__name__}")


def _view(data: Any) -> memoryview:
    if isinstance(data, (list, tuple)):  # the Rust core's Sequence[int] form
        try:
            data = bytes(data)
        except (TypeError, ValueError):
            raise SnapshotError("snapshot bytes as a sequence hold only integers 0..255") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"snapshot bytes expected, not {type(data).__name__}")
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _looks_like_json(view: memoryview) -> bool:
    return bytes(view[:64]).lstrip(b" \t\r\n")[:1] == b"{"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a snapshot")


def _pack_parts(snap: SnapshotFields, checked: Checked) -> list[bytes]:
    """The MessagePack encoding as a list of chunks; large payloads are chunks of their own."""
    collected, pending, metadata = checked
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    parts: list[bytes] = []
    packer.pack_map_header(len(FIELDS))
    head: tuple[Any, ...] = (
        snap.version,
        snap.workflow_name,
        _wire.run_id_to_msgpack(snap.run_id),
        snap.timestamp,
    )
    for name, value in zip(FIELDS[:4], head, strict=True):
        packer.pack(name)
        packer.pack(value)
    packer.pack("context_state")
    packer.pack_map_header(len(snap.context_state))
    for k, sv in snap.context_state.items():
        packer.pack(k)
        packer.pack_map_header(1)
        if isinstance(sv, StateValue.Json):
            packer.pack("Json")
            packer.pack(sv.value)
            continue
        data = sv.as_bytes() if isinstance(sv, StateValue.Bytes) else sv.as_native()
        packer.pack("Bytes" if isinstance(sv, StateValue.Bytes) else "Native")
        if len(data) < _JOIN_MIN:
            packer.pack(data)
        else:
            parts += (packer.bytes(), _bin_header(len(data)), data)
            packer.reset()
    tail: tuple[Any, ...] = (collected, pending, metadata)
    for name, value in zip(FIELDS[5:], tail, strict=True):
        packer.pack(name)
        packer.pack(value)
    parts.append(packer.bytes())
    return parts


def _bin_header(size: int) -> bytes:
    """The MessagePack ``bin 8/16/32`` header for a payload of ``size`` bytes."""
    if size < 1 << 8:
        return struct.pack(">BB", 0xC4, size)
    if size < 1 << 16:
        return struct.pack(">BH", 0xC5, size)
    if size < 1 << 32:
        return struct.pack(">BI", 0xC6, size)
    raise SnapshotError(f"a {size}-byte value is larger than MessagePack allows (4 GiB - 1)")
