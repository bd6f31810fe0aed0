"""``BlazenState``: dataclasses stored field by field, each field in its own context entry."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from blazen.errors import ContextError

__all__ = ["META_SUFFIX", "BlazenState", "CallbackFieldStore", "FieldStore", "state_class"]

META_SUFFIX = ".__blazen_meta__"


@runtime_checkable
class FieldStore(Protocol):
    """Saves and loads one field outside the context (a file, an object store...)."""

    def save(self, key: str, value: Any, ctx: Any) -> None: ...

    def load(self, key: str, ctx: Any) -> Any: ...


class CallbackFieldStore:
    """A ``FieldStore`` from two callables: ``save_fn(key, value)`` and ``load_fn(key)``.

    The callables get no context, as in the Rust-core package; a ``FieldStore`` written as
    a class with ``save(key, value, ctx)``/``load(key, ctx)`` methods does get it.
    """

    __slots__ = ("_load", "_save")

    def __init__(
        self,
        save_fn: Callable[[str, Any], object],
        load_fn: Callable[[str], Any],
    ) -> None:
        self._save = save_fn
        self._load = load_fn

    def save(self, key: str, value: Any, _ctx: Any) -> None:
        self._save(key, value)

    def load(self, key: str, _ctx: Any) -> Any:
        return self._load(key)

    def __repr__(self) -> str:
        return "CallbackFieldStore(save_fn=..., load_fn=...)"


_registry: dict[str, type[BlazenState]] = {}


class BlazenState:
    """Base for state classes: ``@dataclass class S(BlazenState): ...``.

    An inner ``class Meta`` may name ``transient`` fields (never stored, ``None`` when read
    back) and ``store_by`` fields (saved through a ``FieldStore``). ``restore(self)`` is
    called after the object is rebuilt by ``ctx.get``.
    """

    Meta: ClassVar[type]

    def __init__(self, **_kwargs: Any) -> None:
        """Subclasses are dataclasses with their own ``__init__``; the base takes anything."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _registry[type_name(cls)] = cls

    def restore(self) -> None:
        """Hook run after the object is rebuilt from the context; override to reconnect."""


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def state_class(name: str) -> type[BlazenState]:
    """Resolve a stored type record only among classes defined in this process (no imports)."""
    cls = _registry.get(name)
    if cls is None:
        raise ContextError(f"BlazenState class {name!r} is not defined in this process")
    return cls


def field_names(obj: BlazenState) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    return [k for k in vars(obj) if not k.startswith("_")]


def meta_sets(cls: type) -> tuple[frozenset[str], dict[str, FieldStore]]:
    """The ``Meta.transient`` names and ``Meta.store_by`` stores of a state class."""
    meta = getattr(cls, "Meta", None)
    transient = frozenset(getattr(meta, "transient", ()) or ())
    store_by: dict[str, FieldStore] = dict(getattr(meta, "store_by", {}) or {})
    for name, fs in store_by.items():
        if not isinstance(fs, FieldStore):
            raise ContextError(
                f"{cls.__qualname__}.Meta.store_by[{name!r}] has no save()/load() methods"
            )
    return transient, store_by


def meta_record(obj: BlazenState) -> dict[str, Any]:
    """The JSON type record stored under ``"<key>.__blazen_meta__"``."""
    transient, store_by = meta_sets(type(obj))
    names = field_names(obj)
    return {
        "type": type_name(type(obj)),
        "fields": [n for n in names if n not in transient and n not in store_by],
        "transient": [n for n in names if n in transient],
        "store_by": [n for n in names if n in store_by],
    }


def value_digest(value: Any) -> str | None:
    """SHA-256 of the value's pickle, to skip re-saving an unchanged ``store_by`` field."""
    try:
        return hashlib.sha256(pickle.dumps(value, protocol=5)).hexdigest()
    except Exception:
        return None


def rebuild(record: dict[str, Any], key: str, read: Callable[[str], Any], ctx: Any) -> BlazenState:
    """Build the object back from its record, its stored fields and its field stores."""
    cls = state_class(str(record.get("type")))
    _, store_by = meta_sets(cls)
    obj = cls.__new__(cls)
    for name in record.get("fields", []):
        object.__setattr__(obj, name, read(f"{key}.{name}"))
    for name in record.get("store_by", []):
        object.__setattr__(obj, name, store_by[name].load(f"{key}.{name}", ctx))
    for name in record.get("transient", []):
        object.__setattr__(obj, name, None)
    obj.restore()
    return obj
