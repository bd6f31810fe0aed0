"""The digest of a ``store_by`` field's value: the same for equal values in every process.

It decides whether a field changed (and must be saved again) and, on load, whether the
field store gave back the value this run saved. A plain ``pickle`` is not enough for the
second use: a set of strings pickles in an order that changes between processes (string
hashes are randomised), and ``pickle`` encodes which objects are shared, which a field store
that serialises the value (JSON, a database) does not keep. So sets are sorted first and
the pickler runs without its memo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from typing import Any

__all__ = ["DIGEST_PREFIX", "value_digest"]

DIGEST_PREFIX = "v2:"
"""Marks the digests computed here; older records hold a plain pickle's digest (not checked)."""

_ATOMS = frozenset({int, float, str, bytes, bool, type(None)})
_SET, _FROZENSET, _OBJECT = "\x00blazen-set", "\x00blazen-frozenset", "\x00blazen-object"


class _Sink:
    """A write-only file feeding a hash (pickle streams into it: no copy of the value)."""

    __slots__ = ("write",)

    def __init__(self, digest: Any) -> None:
        self.write = digest.update


def _sort_key(value: Any) -> bytes:
    """The digest of an element's memo-less pickle: a set's elements are sorted by it."""
    digest = hashlib.sha256()
    _dump(value, digest)
    return digest.digest()


def _dump(value: Any, digest: Any) -> None:
    """Feed ``value``'s pickle to ``digest`` as it is written."""
    pickler = pickle.Pickler(_Sink(digest), protocol=5)
    pickler.fast = True  # no memo: shared and copied objects pickle alike
    pickler.dump(value)


def _canonical(value: Any) -> Any:
    """``value`` with every set (in lists, tuples, dicts and dataclasses) in sorted order."""
    t = type(value)
    if t in _ATOMS:
        return value
    if t is list or t is tuple:
        if set(map(type, value)) <= _ATOMS:
            return value
        return t(map(_canonical, value))
    if t is dict:
        if set(map(type, value.values())) <= _ATOMS and set(map(type, value)) <= _ATOMS:
            return value
        return {_canonical(k): _canonical(v) for k, v in value.items()}
    if t is set or t is frozenset:
        tag = _SET if t is set else _FROZENSET
        return (tag, tuple(sorted(map(_canonical, value), key=_sort_key)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = getattr(value, "__dict__", None)
        if fields is None:
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return (_OBJECT, t, _canonical(fields))
    return value


def value_digest(value: Any) -> str | None:
    """``"v2:<sha256>"`` of the value, or ``None`` when it cannot be pickled (or is cyclic)."""
    digest = hashlib.sha256()
    try:
        _dump(_canonical(value), digest)
    except Exception:
        return None
    return DIGEST_PREFIX + digest.hexdigest()
