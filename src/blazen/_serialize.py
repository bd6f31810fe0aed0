"""The ``__blazen_serialize__`` / ``__blazen_deserialize__`` protocol for session values.

A class opts in by defining ``__blazen_serialize__(self) -> bytes`` and a classmethod
``__blazen_deserialize__(cls, data: bytes)``. Its values are framed as the Rust-core package
frames them: a 4-byte big-endian length of the type tag, the tag (``module.qualname``, UTF-8),
then the user's bytes. Rebuilding looks the class up among modules already imported in this
process; it never imports a module named by snapshot data.
"""

from __future__ import annotations

import sys
from typing import Any

from blazen.errors import SnapshotError

__all__ = [
    "SessionRefError",
    "deserialize_framed",
    "implements_protocol",
    "serialize_framed",
    "split_frame",
    "type_tag",
]


class SessionRefError(SnapshotError, RuntimeError):
    """A session value cannot be serialized or rebuilt (a ``RuntimeError`` as upstream)."""


def type_tag(cls: type) -> str:
    """The protocol's type tag of a class: ``module.qualname``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def implements_protocol(value: Any) -> bool:
    """Whether the value's class defines ``__blazen_serialize__`` (not a plain attribute)."""
    return callable(getattr(type(value), "__blazen_serialize__", None))


def serialize_framed(value: Any) -> tuple[str, bytes]:
    """``(type tag, framed bytes)`` of a protocol value; ``SessionRefError`` if it fails."""
    tag = type_tag(type(value))
    try:
        payload = value.__blazen_serialize__()
    except Exception as exc:
        raise SessionRefError(
            f"{tag}.__blazen_serialize__ failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise SessionRefError(
            f"{tag}.__blazen_serialize__ must return bytes, not {type(payload).__name__}"
        )
    raw = tag.encode("utf-8")
    return tag, len(raw).to_bytes(4, "big") + raw + bytes(payload)


def split_frame(data: bytes) -> tuple[str, bytes]:
    """``(embedded type tag, user bytes)`` of a framed value; ``SessionRefError`` if malformed."""
    if len(data) < 4:
        raise SessionRefError("serialized session value is shorter than its 4-byte tag length")
    size = int.from_bytes(data[:4], "big")
    if len(data) < 4 + size:
        raise SessionRefError(
            f"serialized session value is truncated: tag of {size} bytes, {len(data) - 4} left"
        )
    try:
        tag = data[4 : 4 + size].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SessionRefError(
            f"serialized session value has a tag that is not UTF-8: {exc}"
        ) from None
    return tag, data[4 + size :]


def deserialize_framed(data: bytes) -> Any:
    """Rebuild a framed value through its class's ``__blazen_deserialize__``."""
    tag, payload = split_frame(data)
    cls = _find_class(tag)
    rebuild = getattr(cls, "__blazen_deserialize__", None)
    if not callable(rebuild):
        raise SessionRefError(f"{tag} has no __blazen_deserialize__ classmethod")
    try:
        return rebuild(payload)
    except Exception as exc:
        raise SessionRefError(
            f"{tag}.__blazen_deserialize__ failed: {type(exc).__name__}: {exc}"
        ) from exc


def _find_class(tag: str) -> type:
    """The class named ``module.qualname`` among the modules imported in this process."""
    parts = tag.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj: Any = module
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                break
        if isinstance(obj, type):
            return obj
    raise SessionRefError(
        f"cannot rebuild a session value of type {tag!r}: no such class in the modules "
        f"imported by this process (import the module that defines it before resuming)"
    )
