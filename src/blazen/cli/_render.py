"""Small text renderings: times, sizes, statuses and one-line previews of stored data.

Previews never unpickle: a ``Native`` value or a pickled event field shows as its size.
"""

from __future__ import annotations

import json
import time
from typing import Any

import msgpack
from rich.text import Text

from blazen._jsoncopy import NotJsonError, checked_copy
from blazen.values import StateValue

__all__ = [
    "fmt_size",
    "fmt_time",
    "json_text",
    "preview",
    "preview_event_data",
    "state_size",
    "state_preview",
    "status_text",
    "stored_text",
]

_STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "running": "yellow",
    "waiting": "magenta",
    "paused": "blue",
    "cancelled": "dim",
}
_TAG = "$blazen"  # the tag of non-JSON event field values (docs/snapshot-format.md)


def fmt_time(ts: float, *, short: bool = False) -> str:
    """Local time, to the second; ``short``: just the time for today, else date and minute."""
    when = time.localtime(ts)
    if not short:
        return time.strftime("%Y-%m-%d %H:%M:%S", when)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%Y-%m-%d %H:%M", when)


def fmt_size(n: int) -> str:
    """``512 B``, ``4.0 KiB``, ``1.5 MiB``."""
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def status_text(status: str) -> Text:
    """The run status, coloured."""
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def _fmt(value: Any, budget: int) -> str:
    """JSON-like text for ``value``; bytes and pickled values as ``<...>`` descriptions.

    Containers stop once ``budget`` characters are produced (the caller cuts the rest).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        tagged = _tagged(value)
        if tagged is not None:
            return tagged
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {_fmt(v, budget)}" for k, v in value.items()
        )
        return "{" + _join(items, budget) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + _join((_fmt(v, budget) for v in value), budget) + "]"
    return repr(value)


def _tagged(value: dict[Any, Any]) -> str | None:
    """The description of a ``{"$blazen": {kind: payload}}`` field value, else ``None``."""
    if len(value) != 1 or not isinstance(value.get(_TAG), dict) or len(value[_TAG]) != 1:
        return None
    ((kind, payload),) = value[_TAG].items()
    if kind == "Json":
        return _fmt(payload, 200)
    if kind in ("Native", "Bytes") and isinstance(payload, (bytes, list)):
        return f"<{'pickled' if kind == 'Native' else 'bytes'} {len(payload)} B>"
    return None


def _join(parts: Any, budget: int) -> str:
    out: list[str] = []
    used = 0
    for part in parts:
        if used > budget:
            out.append("…")
            break
        out.append(part)
        used += len(part) + 2
    return ", ".join(out)


def preview(value: Any, width: int = 60) -> str:
    """A one-line, JSON-like preview of ``value``, cut to ``width`` characters."""
    text = _fmt(value, width)
    return text if len(text) <= width else text[: width - 1] + "…"


def preview_event_data(event_type: str, data: Any, width: int = 60) -> str:
    """Preview a stored event's fields (a ``StartEvent``'s are nested under ``"data"``)."""
    if event_type == "blazen::StartEvent" and isinstance(data, dict) and set(data) == {"data"}:
        data = data["data"]
    if isinstance(data, dict):
        parts = ", ".join(f"{k}={preview(v, width)}" for k, v in data.items())
        return parts if len(parts) <= width else parts[: width - 1] + "…"
    return preview(data, width)


def state_size(sv: StateValue) -> int:
    """Stored size of a context value: raw bytes, or its MessagePack encoding for JSON."""
    if isinstance(sv, StateValue.Json):
        return len(msgpack.packb(sv.value, use_bin_type=True))
    if isinstance(sv, (StateValue.Bytes, StateValue.Native)):
        return len(sv.data)
    return 0


def json_text(value: Any, indent: int | None = None) -> str | None:
    """``value`` as JSON text, or ``None`` unless it is JSON as the Context means it (string
    keys, no tuples, finite numbers): ``json.dumps`` would turn ``{1: "a"}`` into ``{"1": "a"}``."""
    try:
        checked_copy(value)
    except (NotJsonError, RecursionError):
        return None
    return json.dumps(value, indent=indent, ensure_ascii=False)


def stored_text(sv: StateValue | None) -> str:
    """A stored result as text: JSON as it is, bytes as size and hex head, a pickle as its
    size (never unpickled: a tool may not have the run's classes)."""
    if sv is None:
        return "null"
    if isinstance(sv, StateValue.Json):
        return json.dumps(sv.value, ensure_ascii=False)
    if isinstance(sv, StateValue.Bytes):
        return f"<{fmt_size(len(sv.data))} of bytes: {state_preview(sv)}>"
    size = fmt_size(state_size(sv))
    return f"<pickled Python object, {size}: wf.wait(run_id) in Python gives it>"


def state_preview(sv: StateValue, width: int = 50) -> str:
    """Preview of a context value; bytes show their first bytes in hex, pickles nothing."""
    if isinstance(sv, StateValue.Json):
        return preview(sv.value, width)
    if isinstance(sv, StateValue.Bytes):
        head = sv.data[:8].hex(" ")
        return head + (" …" if len(sv.data) > 8 else "")
    return "(pickled Python object)"
