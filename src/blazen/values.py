"""``StateValue``: the closed sum of the three stored value kinds, and the tier dispatch.

A context value is stored in the best of three tiers: raw bytes (``Bytes``), JSON-compatible
data (``Json``) or pickle bytes (``Native``). Anything that cannot be pickled is not a
``StateValue`` at all: it lives as a live reference in the session namespace.
"""

from __future__ import annotations

import builtins
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, final

from blazen._jsoncopy import (
    INT_MAX,
    INT_MIN,
    NotJsonError,
    checked_copy,
    clone_json,
    json_copy,
)
from blazen.errors import ContextError

__all__ = [
    "LIVE",
    "StateValue",
    "StateValueError",
    "native_dumps",
    "same_stored",
    "stored_form",
    "to_state_value",
]

Kind = Literal["json", "bytes", "native"]


class StateValueError(ContextError, ValueError):
    """A ``StateValue`` is not the variant asked for, or a tagged dict is malformed.

    A ``ValueError`` (as the Rust-core package raises) and a ``ContextError``.
    """


def native_dumps(value: Any) -> bytes:
    """Pickle ``value`` (protocol 5); raises whatever pickle raises for unpicklable values."""
    return pickle.dumps(value, protocol=5)


class StateValue:
    """One stored context value: ``StateValue.Json``, ``StateValue.Bytes`` or ``StateValue.Native``.

    The three variants are frozen and the set is closed; use them with ``match``::

        match ctx.get_value("k"):
            case StateValue.Json(value=v): ...
            case StateValue.Bytes(data=b): ...
            case StateValue.Native(data=p): ...
    """

    __slots__ = ()
    kind: ClassVar[Kind]

    def __new__(cls, *args: Any, **kwargs: Any) -> StateValue:
        if cls is StateValue:
            raise TypeError("StateValue cannot be instantiated: use StateValue.Json/Bytes/Native")
        return super().__new__(cls)

    if TYPE_CHECKING:
        Json = _JsonValue  # noqa: F821 (defined below; aliases for type checkers)
        Bytes = _BytesValue  # noqa: F821
        Native = _NativeValue  # noqa: F821

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__module__ != __name__:
            raise TypeError("StateValue is a closed type: use StateValue.Json/Bytes/Native")
        super().__init_subclass__(**kwargs)

    @staticmethod
    def json(value: Any) -> StateValue:
        """A ``Json`` value, converting as the Rust-core package does: tuples become lists,
        dict keys strings, non-finite floats ``None``. ``TypeError`` for anything else."""
        try:
            converted = _to_json(value)
        except RecursionError:
            raise ContextError("StateValue.json: the value is nested too deeply") from None
        return _JsonValue(converted)

    @staticmethod
    def bytes(data: bytes | bytearray | memoryview | Sequence[int]) -> StateValue:
        """A ``Bytes`` value from bytes or a sequence of ints 0..255."""
        return _BytesValue(_byte_string("StateValue.bytes", data))

    @staticmethod
    def native(data: builtins.bytes | bytearray | memoryview | Sequence[int]) -> StateValue:
        """A ``Native`` value from pickle bytes (or ints 0..255); they are not unpickled."""
        return _NativeValue(_byte_string("StateValue.native", data))

    def is_json(self) -> bool:
        return self.kind == "json"

    def is_bytes(self) -> bool:
        return self.kind == "bytes"

    def is_native(self) -> bool:
        return self.kind == "native"

    def as_json(self) -> Any:
        """The JSON value (a fresh copy); ``StateValueError`` for another kind."""
        raise StateValueError(f"StateValue is {self.kind}, not json")

    def as_bytes(self) -> builtins.bytes:
        """The raw bytes of a ``Bytes`` value; ``StateValueError`` for another kind."""
        raise StateValueError(f"StateValue is {self.kind}, not bytes")

    def as_native(self) -> builtins.bytes:
        """The pickle bytes of a ``Native`` value (never unpickled here).

        Raises ``StateValueError`` for another kind.
        """
        raise StateValueError(f"StateValue is {self.kind}, not native")

    def to_dict(self) -> dict[str, Any]:
        """The externally tagged form: ``{"Json": v}``, ``{"Bytes": [...]}``, ``{"Native": [...]}``.

        Binary payloads are lists of ints, as in the Rust-core package's ``to_dict``.
        """
        raise NotImplementedError

    @staticmethod
    def from_dict(value: Any) -> StateValue:
        """Inverse of :meth:`to_dict`; accepts bytes or lists of ints for binary variants.

        ``ContextError`` (a ``TypeError``) when ``value`` is not a dict, ``StateValueError``
        (a ``ValueError``) when it is not a one-key tagged dict.
        """
        if not isinstance(value, dict):
            raise ContextError(f"StateValue.from_dict needs a dict, not {type(value).__name__}")
        if len(value) != 1:
            raise StateValueError("a StateValue dict has exactly one key: Json, Bytes or Native")
        ((tag, payload),) = value.items()
        if tag == "Json":
            return _JsonValue(payload)
        if tag in ("Bytes", "Native"):
            raw = _coerce_bytes(payload, tag)
            return _BytesValue(raw) if tag == "Bytes" else _NativeValue(raw)
        raise StateValueError(f"unknown StateValue tag {tag!r}: expected Json, Bytes or Native")


def _coerce_bytes(payload: Any, tag: str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, list):
        try:
            return bytes(payload)
        except (TypeError, ValueError) as exc:
            raise StateValueError(f"{tag} payload is not a list of bytes 0..255") from exc
    raise ContextError(f"{tag} payload must be bytes, not {type(payload).__name__}")


def _byte_string(where: str, data: Any) -> bytes:
    """Bytes from a bytes-like object or a sequence of ints 0..255 (not a str)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str) or not isinstance(data, Sequence):
        raise ContextError(f"{where} needs bytes or a list of ints, not {type(data).__name__}")
    try:
        return bytes(data)
    except ValueError as exc:
        raise StateValueError(f"{where}: {exc} (each item must be 0..255)") from None
    except TypeError as exc:
        raise ContextError(f"{where}: {exc}") from None


def _to_json(value: Any) -> Any:
    """A JSON value converted the Rust-core package's way; ``ContextError`` if impossible."""
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if isinstance(value, int):
        value = int(value)
        return value if INT_MIN <= value <= INT_MAX else float(value)
    if isinstance(value, (float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {k if type(k) is str else str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    raise ContextError(f"cannot serialize `{t.__name__}` to JSON")


@final
@dataclass(frozen=True, slots=True, init=False)
class _JsonValue(StateValue):
    value: Any
    kind: ClassVar[Kind] = "json"

    def __init__(self, value: Any) -> None:
        try:
            copied = json_copy(value)
        except NotJsonError as exc:
            raise ContextError(f"StateValue.Json needs a JSON-compatible value: {exc}") from None
        except RecursionError:
            raise ContextError(
                "StateValue.Json needs a JSON-compatible value: it is self-referencing "
                "or nested too deeply"
            ) from None
        object.__setattr__(self, "value", copied)

    def as_json(self) -> Any:
        return clone_json(self.value)  # ``value`` was checked when this was made

    def to_dict(self) -> dict[str, Any]:
        return {"Json": json_copy(self.value)}

    def __repr__(self) -> str:
        return f"StateValue.Json({self.value!r})"


@final
@dataclass(frozen=True, slots=True, init=False)
class _BytesValue(StateValue):
    data: bytes
    kind: ClassVar[Kind] = "bytes"

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ContextError(
                    f"StateValue.Bytes needs bytes, bytearray or memoryview, "
                    f"not {type(data).__name__}"
                )
            data = bytes(data)
        object.__setattr__(self, "data", data)

    def as_bytes(self) -> bytes:
        return self.data

    def to_dict(self) -> dict[str, Any]:
        return {"Bytes": list(self.data)}

    def __repr__(self) -> str:
        return f"StateValue.Bytes(len={len(self.data)})"


@final
@dataclass(frozen=True, slots=True, init=False)
class _NativeValue(StateValue):
    data: bytes
    kind: ClassVar[Kind] = "native"

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ContextError(f"StateValue.Native holds pickle bytes, not {type(data).__name__}")
        object.__setattr__(self, "data", bytes(data))

    def as_native(self) -> bytes:
        return self.data

    def to_dict(self) -> dict[str, Any]:
        return {"Native": list(self.data)}

    def __repr__(self) -> str:
        return f"StateValue.Native(len={len(self.data)})"


for _cls, _name in ((_JsonValue, "Json"), (_BytesValue, "Bytes"), (_NativeValue, "Native")):
    _cls.__qualname__ = f"StateValue.{_name}"
    _cls.__name__ = _name
    setattr(StateValue, _name, _cls)


def to_state_value(value: Any) -> StateValue | None:
    """Choose the best tier for ``value``; ``None`` means "keep it as a live reference"."""
    if isinstance(value, StateValue):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _BytesValue(value)
    try:
        return _JsonValue(value)
    except ContextError:
        pass
    try:
        return _NativeValue(native_dumps(value))
    except Exception:
        return None


LIVE: Any = object()
"""Returned by :func:`stored_form` for values kept as live references (not storable)."""


def stored_form(value: Any) -> Any:
    """The stored form of ``value``: JSON copy, bytes, Native, or ``LIVE`` (keep by reference)."""
    if isinstance(value, StateValue):
        if isinstance(value, _JsonValue):
            return clone_json(value.value)
        return value.data if isinstance(value, _BytesValue) else value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    try:
        return checked_copy(value)
    except (NotJsonError, RecursionError):
        pass
    try:
        return _NativeValue(native_dumps(value))
    except Exception:
        return LIVE


def same_stored(old: Any, new: Any) -> bool:
    """Whether two stored forms are identical, so that rewriting one can be skipped."""
    if type(new) is _NativeValue:
        return bool(old.data == new.data)
    return _json_same(old, new)


def _json_same(a: Any, b: Any) -> bool:
    # Stricter than ``==``: 1, 1.0 and True differ, as do 0.0 and -0.0 and key orders.
    t = type(a)
    if t is not type(b):
        return False
    if t is dict:
        return list(a) == list(b) and all(_json_same(v, b[k]) for k, v in a.items())
    if t is list:
        return len(a) == len(b) and all(_json_same(x, y) for x, y in zip(a, b, strict=True))
    if t is float:
        return bool(a == b and math.copysign(1.0, a) == math.copysign(1.0, b))
    return bool(a == b)
