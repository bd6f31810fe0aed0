"""Checked and cheap copies of JSON-shaped data: the value semantics of the Context.

JSON-compatible means exactly ``dict`` (str keys), ``list``, ``str``, ``int`` (64-bit),
finite ``float``, ``bool`` and ``None``. ``checked_copy`` copies and checks what is stored
(``ctx.set``); ``clone_json`` copies what was already checked (``ctx.get``).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "NotJsonError",
    "checked_copy",
    "checked_dict",
    "checked_list",
    "clone_dict",
    "clone_json",
    "clone_list",
    "is_tracked",
    "json_copy",
]

INT_MIN = -(2**63)
"""The smallest int a JSON value holds (signed 64-bit)."""
INT_MAX = 2**64 - 1
"""The largest int a JSON value holds (unsigned 64-bit)."""

# Whether the collector tracks an object (see ``clone_dict``); where the interpreter has no
# such notion, every dict counts as tracked and is walked.
is_tracked: Callable[[object], bool] = getattr(gc, "is_tracked", lambda obj: True)


class NotJsonError(ValueError):
    """Internal: the value is not JSON-compatible (carries the offending path)."""


def json_copy(value: Any, path: str = "$") -> Any:
    """Return a private deep copy of a JSON-compatible value, or raise ``NotJsonError``.

    JSON-compatible means exactly ``dict`` (str keys), ``list``, ``str``, ``int`` (64-bit),
    finite ``float``, ``bool`` and ``None``; subclasses and tuples are not, so that ``get``
    returns the very type that was stored. The error names the first offending ``path``.
    """
    try:
        return checked_copy(value)
    except NotJsonError:
        _explain(value, path)  # raises NotJsonError naming where
        raise


def checked_copy(value: Any) -> Any:
    """``json_copy`` without the path in the error: the fast path of ``ctx.set``.

    Containers are copied (``dict.copy``/``list.copy`` at C speed) and then checked in
    place, replacing nested containers by their checked copies; scalars are immutable and
    shared. Raises ``NotJsonError`` (no path) or ``RecursionError`` (self-referencing).
    """
    t = type(value)
    if t is dict:
        return checked_dict(value)
    if t is list:
        return checked_list(value)
    if t is str or t is bool or value is None:
        return value
    if (t is int and INT_MIN <= value <= INT_MAX) or (t is float and value - value == 0.0):
        return value  # ``x - x == 0.0`` is false for inf and nan only
    raise NotJsonError("not JSON-compatible")


def checked_dict(value: dict[Any, Any]) -> dict[str, Any]:
    """``checked_copy`` of a dict (the caller checked the type)."""
    out = value.copy()
    for k, v in out.items():  # replacing the value of an existing key is safe while iterating
        t = type(v)
        if type(k) is not str:
            raise NotJsonError("not JSON-compatible")
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if INT_MIN <= v <= INT_MAX:
                continue
            raise NotJsonError("not JSON-compatible")
        if t is dict:
            out[k] = checked_dict(v)
        elif t is list:
            out[k] = checked_list(v)
        elif t is not float or v - v != 0.0:
            raise NotJsonError("not JSON-compatible")
    return out


def checked_list(value: list[Any]) -> list[Any]:
    """``checked_copy`` of a list (the caller checked the type)."""
    out = value.copy()
    for i, v in enumerate(out):
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if INT_MIN <= v <= INT_MAX:
                continue
            raise NotJsonError("not JSON-compatible")
        if t is dict:
            out[i] = checked_dict(v)
        elif t is list:
            out[i] = checked_list(v)
        elif t is not float or v - v != 0.0:
            raise NotJsonError("not JSON-compatible")
    return out


def _explain(value: Any, path: str) -> None:
    """Raise ``NotJsonError`` naming the first part of ``value`` that is not JSON (slow path)."""
    t = type(value)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise NotJsonError(f"{path}: dict key {k!r} is not a str")
            _explain(v, f"{path}.{k}")
    elif t is list:
        for i, v in enumerate(value):
            _explain(v, f"{path}[{i}]")
    elif t is int:
        if not INT_MIN <= value <= INT_MAX:
            raise NotJsonError(f"{path}: integer {value} does not fit in 64 bits")
    elif t is float:
        if not math.isfinite(value):
            raise NotJsonError(f"{path}: {value} is not a finite number")
    elif not (t is str or t is bool or value is None):
        raise NotJsonError(f"{path}: {t.__name__} is not JSON-compatible")


def clone_json(value: Any) -> Any:
    """A fresh copy of already-checked JSON data (a stored value): the copy on ``ctx.get``.

    Only containers are copied, and nothing is checked again; one frame per nesting level,
    like ``checked_copy``, so whatever could be stored can be read back.
    """
    t = type(value)
    if t is dict:
        return clone_dict(value)
    if t is list:
        return clone_list(value)
    return value


def clone_dict(value: dict[str, Any]) -> dict[str, Any]:
    """``clone_json`` of a dict: one C-level copy, then its nested containers cloned.

    A dict the garbage collector does not track holds no container: CPython leaves dicts
    of atomic values (str, int, float, bool, None) untracked and tracks a dict as soon as
    it holds a dict or a list (it could then be part of a cycle). So an untracked dict is
    flat and its shallow copy is a full copy; a tracked one is walked (it may be flat too).
    """
    out = value.copy()
    if not is_tracked(value):
        return out
    for k, v in out.items():  # replacing the value of an existing key is safe while iterating
        t = type(v)
        if t is dict:
            out[k] = clone_dict(v)
        elif t is list:
            out[k] = clone_list(v)
    return out


def clone_list(value: list[Any]) -> list[Any]:
    """``clone_json`` of a list (see ``clone_dict``)."""
    out = value.copy()
    for v in out:
        if type(v) is dict or type(v) is list:
            break
    else:
        return out
    for i, v in enumerate(out):
        t = type(v)
        if t is dict:
            out[i] = clone_dict(v)
        elif t is list:
            out[i] = clone_list(v)
    return out
