"""How stored values look on a page: JSON pretty-printed, bytes as size + hex head, pickles
as their class name + size. Nothing here ever unpickles: a pickle's class is read from its
opcodes (``pickletools.genops`` decodes them without running anything).
"""

from __future__ import annotations

import json
import pickletools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from blazen.values import StateValue

__all__ = [
    "Change",
    "ValueView",
    "diff_states",
    "event_data_text",
    "fmt_size",
    "pickle_type",
    "plain_data",
    "value_view",
]

Change = Literal["added", "changed", "removed", "same"]

_TAG = "$blazen"  # tagged non-JSON event field values (docs/snapshot-format.md)
_HEX_HEAD = 32  # bytes shown in hex
_MAX_TEXT = 20_000  # characters of pretty JSON shown before cutting
_MAX_OPS = 64  # pickle opcodes read to find the class

_SIMPLE_OPS = {
    "EMPTY_DICT": "dict",
    "DICT": "dict",
    "EMPTY_LIST": "list",
    "LIST": "list",
    "EMPTY_SET": "set",
    "FROZENSET": "frozenset",
    "EMPTY_TUPLE": "tuple",
    "TUPLE": "tuple",
    "TUPLE1": "tuple",
    "TUPLE2": "tuple",
    "TUPLE3": "tuple",
    "MARK": "tuple",
    "INT": "int",
    "BININT": "int",
    "BININT1": "int",
    "BININT2": "int",
    "LONG": "int",
    "LONG1": "int",
    "LONG4": "int",
    "FLOAT": "float",
    "BINFLOAT": "float",
    "NONE": "None",
    "NEWTRUE": "bool",
    "NEWFALSE": "bool",
    "BINBYTES": "bytes",
    "SHORT_BINBYTES": "bytes",
    "BINBYTES8": "bytes",
    "BYTEARRAY8": "bytearray",
}
_STRING_OPS = frozenset(
    {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING"}
)
_SKIP_OPS = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"})


@dataclass(frozen=True, slots=True)
class ValueView:
    """One context value as shown: its tier, stored size, a short summary and the full text."""

    kind: str
    size: int
    summary: str
    text: str


def fmt_size(n: int) -> str:
    """``512 B``, ``4.0 KiB``, ``1.5 MiB``."""
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def pickle_type(data: bytes) -> str:
    """The type a pickle would rebuild (``module.Class``, ``dict``...), read without loading."""
    strings: list[str] = []
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(data)):
            name = op.name
            if count > _MAX_OPS or name == "STOP":
                break
            if name in _SKIP_OPS:
                continue
            if name == "GLOBAL" and isinstance(arg, str):
                return arg.replace(" ", ".", 1)
            if name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if name in _STRING_OPS and isinstance(arg, str) and len(strings) < 2:
                strings.append(arg)
                continue
            if strings:
                return "str"
            return _SIMPLE_OPS.get(name, "unknown")
    except Exception:
        return "unknown (not a readable pickle)"
    return "str" if strings else "unknown"


def _hex_head(data: bytes) -> str:
    head = data[:_HEX_HEAD].hex(" ")
    return head + (" …" if len(data) > _HEX_HEAD else "")


def _cut(text: str) -> str:
    if len(text) <= _MAX_TEXT:
        return text
    return text[:_MAX_TEXT] + f"\n… ({len(text) - _MAX_TEXT} more characters)"


def _pretty(value: Any) -> str:
    return _cut(json.dumps(value, indent=2, ensure_ascii=False))


def value_view(sv: StateValue) -> ValueView:
    """The view of a stored context value (never unpickled)."""
    if isinstance(sv, StateValue.Json):
        text = _pretty(sv.value)
        size = len(json.dumps(sv.value, ensure_ascii=False).encode())
        summary = text if len(text) <= 80 and "\n" not in text else _one_line(sv.value)
        return ValueView("json", size, summary, text)
    if isinstance(sv, StateValue.Bytes):
        data = sv.data
        return ValueView("bytes", len(data), f"{fmt_size(len(data))}: {_hex_head(data)}", "")
    data = sv.as_native()
    cls = pickle_type(data)
    return ValueView("native", len(data), f"pickled {cls}, {fmt_size(len(data))}", "")


def _one_line(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


def _same(a: StateValue, b: StateValue) -> bool:
    if a.kind != b.kind:
        return False
    if isinstance(a, StateValue.Json) and isinstance(b, StateValue.Json):
        return json.dumps(a.value) == json.dumps(b.value)
    return bool(a.to_dict() == b.to_dict())


def diff_states(
    previous: Mapping[str, StateValue] | None, current: Mapping[str, StateValue]
) -> dict[str, Change]:
    """Key -> how it changed since ``previous`` (removed keys included); all new without one."""
    before = previous or {}
    changes: dict[str, Change] = {}
    for key, sv in current.items():
        old = before.get(key)
        if old is None:
            changes[key] = "added"
        else:
            changes[key] = "same" if _same(old, sv) else "changed"
    for key in before:
        if key not in current:
            changes[key] = "removed"
    return changes


def plain_data(value: Any) -> Any:
    """Stored event data as plain JSON: bytes and pickles become descriptions, never objects."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return f"<{fmt_size(len(raw))}: {_hex_head(raw)}>"
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(_TAG), dict) and len(value[_TAG]) == 1:
            return _tagged(value[_TAG])
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"<{type(value).__name__}>"


def _tagged(tag: dict[Any, Any]) -> Any:
    ((kind, payload),) = tag.items()
    if kind == "Json":
        return plain_data(payload)
    raw = bytes(payload) if isinstance(payload, (bytes, bytearray, list)) else b""
    if kind == "Native":
        return f"<pickled {pickle_type(raw)}, {fmt_size(len(raw))}>"
    return f"<{fmt_size(len(raw))}: {_hex_head(raw)}>"


def event_data_text(event_type: str, data: Any) -> str:
    """Pretty JSON of an event's stored fields (a ``StartEvent``'s are under ``"data"``)."""
    if event_type == "blazen::StartEvent" and isinstance(data, dict) and set(data) == {"data"}:
        data = data["data"]
    return _pretty(plain_data(data))
