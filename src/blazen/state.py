"""``BlazenState``: dataclasses stored field by field, each field in its own context entry."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from blazen._state_digest import DIGEST_PREFIX, value_digest
from blazen.errors import ContextError

__all__ = ["META_SUFFIX", "BlazenState", "CallbackFieldStore", "FieldStore", "state_class"]

META_SUFFIX = ".__blazen_meta__"


@runtime_checkable
class FieldStore(Protocol):
    """Saves and loads one field outside the context (a file, an object store...).

    ``key`` is ``"<context key>.<field>"``, the same in every run. ``save`` may return a
    reference to what it wrote (any JSON value: a path, an object key...): it is stored with
    the object's record, so it is checkpointed, forked and resumed with the run, and ``load``
    then gets it in place of the key. ``None`` means "load it by the key".
    """

    def save(self, key: str, value: Any, ctx: Any) -> Any: ...

    def load(self, key: Any, ctx: Any) -> Any: ...


class CallbackFieldStore:
    """A ``FieldStore`` from two callables: ``save_fn(key, value)`` and ``load_fn(key)``.

    The callables get no context, as in the Rust-core package; a ``FieldStore`` written as
    a class with ``save(key, value, ctx)``/``load(key, ctx)`` methods does get it. What
    ``save_fn`` returns is ignored, as in the Rust-core package (a ``write()`` count must not
    change what ``load_fn`` gets), unless ``returns_ref=True``: then it is the field's
    reference, and ``load_fn`` gets it in place of the key when it is not ``None``.
    """

    __slots__ = ("_load", "_returns_ref", "_save")

    def __init__(
        self,
        save_fn: Callable[[str, Any], object],
        load_fn: Callable[[Any], Any],
        *,
        returns_ref: bool = False,
    ) -> None:
        self._save = save_fn
        self._load = load_fn
        self._returns_ref = returns_ref

    def save(self, key: str, value: Any, _ctx: Any) -> Any:
        ref = self._save(key, value)
        return ref if self._returns_ref else None

    def load(self, key: Any, _ctx: Any) -> Any:
        return self._load(key)

    def __repr__(self) -> str:
        more = ", returns_ref=True" if self._returns_ref else ""
        return f"CallbackFieldStore(save_fn=..., load_fn=...{more})"


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


def rebuild(record: dict[str, Any], key: str, read: Callable[[str], Any], ctx: Any) -> BlazenState:
    """Build the object back from its record, its stored fields and its field stores."""
    cls = state_class(str(record.get("type")))
    _, store_by = meta_sets(cls)
    obj = cls.__new__(cls)
    for name in record.get("fields", []):
        object.__setattr__(obj, name, read(f"{key}.{name}"))
    refs = record.get("refs") or {}
    digests = record.get("digests") or {}
    for name in record.get("store_by", []):
        field_key, ref = f"{key}.{name}", refs.get(name)
        value = store_by[name].load(field_key if ref is None else ref, ctx)
        check_loaded(field_key, ref, value, digests.get(name))
        object.__setattr__(obj, name, value)
    for name in record.get("transient", []):
        object.__setattr__(obj, name, None)
    obj.restore()
    return obj


def check_loaded(field_key: str, ref: Any, value: Any, saved: Any) -> None:
    """``ContextError`` when a field store gave back another value than the one saved."""
    if not isinstance(saved, str) or not saved.startswith(DIGEST_PREFIX):
        return  # no digest (an unpicklable value) or an older record's: nothing to compare
    got = value_digest(value)
    if got is None or got == saved:
        return
    how = f"by the key {field_key!r}" if ref is None else f"by the reference {ref!r}"
    raise ContextError(
        f"the field store of {field_key} loaded ({how}) a value that is not the one saved"
        f" with this object (its digest differs): the data under {field_key!r} was"
        " overwritten since, for example by another run or a fork saving the same key; make"
        " the store's key per run, or return a reference from save() (docs/context.md,"
        " 'store_by fields')"
    )
