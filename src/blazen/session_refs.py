"""The per-run registry of live (non-JSON) values, as the Rust-core package exposes it.

Every value that is not JSON-compatible and travels in an event built inside a step (or is
put into ``ctx.session``) is recorded here under a random :class:`RegistryKey`, so a run's
live references can be listed, released and, for classes implementing the
``__blazen_serialize__`` protocol, carried across a pause. ``WorkflowResult.session_refs``
is the registry of the run that produced the result.

The runtime makes a run's registry current (:func:`using_registry`) while its steps run;
events then register their non-JSON values in it. Outside any run, building an event with
a value that cannot be encoded as JSON raises ``TypeError``, as in the Rust-core package.
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from blazen._call import current_step
from blazen._serialize import (
    SessionRefError,
    deserialize_framed,
    implements_protocol,
    serialize_framed,
    split_frame,
)

__all__ = [
    "DROPPED_REFS_KEY",
    "SERIALIZED_REFS_KEY",
    "RefLifetime",
    "RegistryKey",
    "RemoteRefDescriptor",
    "SessionRefError",
    "SessionRefRegistry",
    "current_registry",
    "using_registry",
]

SERIALIZED_REFS_KEY = "__blazen_serialized_session_refs"
"""Snapshot metadata key: ``{key: {"type_tag": str, "data": [int, ...]}}`` (Rust-core layout)."""
DROPPED_REFS_KEY = "__blazen_dropped_session_refs"
"""Snapshot metadata key: the keys of live references a snapshot could not carry."""


class RefLifetime(enum.IntEnum):
    """When a registry entry is released (the Rust core's ``RefLifetime``)."""

    UntilContextDrop = 0
    UntilExplicitDrop = 1
    UntilSnapshot = 2
    UntilParentFinish = 3

    def __repr__(self) -> str:
        return f"RefLifetime.{self.name}"

    __str__ = __repr__


class RegistryKey:
    """A registry entry's key: a UUID. ``RegistryKey(str)`` parses, ``new_random()`` mints."""

    __slots__ = ("_uuid",)

    def __init__(self, uuid_str: str) -> None:
        if not isinstance(uuid_str, str):
            raise TypeError(f"RegistryKey needs a UUID str, not {type(uuid_str).__name__}")
        try:
            self._uuid = uuid.UUID(uuid_str)
        except ValueError as exc:
            raise ValueError(f"invalid UUID {uuid_str!r}: {exc}") from None

    @staticmethod
    def new_random() -> RegistryKey:
        """A fresh random (version 4) key."""
        key = RegistryKey.__new__(RegistryKey)
        key._uuid = uuid.uuid4()
        return key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegistryKey) and other._uuid == self._uuid

    def __hash__(self) -> int:
        return hash(self._uuid)

    def __str__(self) -> str:
        return str(self._uuid)

    def __repr__(self) -> str:
        return f"RegistryKey({self._uuid})"


@dataclass(frozen=True, slots=True, repr=False)
class RemoteRefDescriptor:
    """Where a reference held by another node lives (kept for API parity; never resolved)."""

    origin_node_id: str
    type_tag: str
    created_at_epoch_ms: int

    def __post_init__(self) -> None:
        for name in ("origin_node_id", "type_tag"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"RemoteRefDescriptor.{name} must be a str")
        ms = self.created_at_epoch_ms
        if isinstance(ms, bool) or not isinstance(ms, int):
            raise TypeError("RemoteRefDescriptor.created_at_epoch_ms must be an int")
        if ms < 0:
            raise OverflowError("RemoteRefDescriptor.created_at_epoch_ms must be >= 0")

    def __repr__(self) -> str:
        return (
            f"RemoteRefDescriptor(origin_node_id={self.origin_node_id!r}, "
            f"type_tag={self.type_tag!r}, created_at_epoch_ms={self.created_at_epoch_ms})"
        )


class _Entry:
    __slots__ = ("lifetime", "live", "remote", "serializable")

    def __init__(self, live: Any, lifetime: RefLifetime, serializable: bool) -> None:
        self.live = live
        self.lifetime = lifetime
        self.serializable = serializable
        self.remote: RemoteRefDescriptor | None = None


class SessionRefRegistry:
    """Live values of one run by key; thread-safe. Async twins (``alen``...) return the same."""

    __slots__ = ("_by_id", "_entries", "_lock", "_restored")

    def __init__(self) -> None:
        self._entries: dict[RegistryKey, _Entry] = {}
        self._by_id: dict[int, RegistryKey] = {}
        self._restored: dict[RegistryKey, bytes] = {}  # framed bytes loaded at resume
        self._lock = threading.Lock()

    # -- the Rust-core surface ---------------------------------------------------------
    def len(self) -> int:
        """Number of live entries."""
        return len(self._entries)

    def is_empty(self) -> bool:
        return not self._entries

    def keys(self) -> list[RegistryKey]:
        """Every live key, in insertion order."""
        with self._lock:
            return list(self._entries)

    def lifetime_of(self, key: RegistryKey) -> RefLifetime | None:
        entry = self._entries.get(_key(key))
        return None if entry is None else entry.lifetime

    def get_remote(self, key: RegistryKey) -> RemoteRefDescriptor | None:
        entry = self._entries.get(_key(key))
        return None if entry is None else entry.remote

    def is_remote(self, key: RegistryKey) -> bool:
        return self.get_remote(key) is not None

    def remote_entries(self) -> list[tuple[RegistryKey, RemoteRefDescriptor]]:
        with self._lock:
            return [(k, e.remote) for k, e in self._entries.items() if e.remote is not None]

    def remove(self, key: RegistryKey) -> bool:
        """Release one entry; ``True`` if it was there."""
        with self._lock:
            key = _key(key)
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._forget(key, entry)
            return entry is not None

    def drain(self) -> int:
        """Release every entry; the number released."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._by_id.clear()
            self._restored.clear()
            return count

    def clear_on_context_drop(self, owns_registry: bool) -> int:
        """Release what a finished run releases: ``UntilContextDrop`` entries (and
        ``UntilParentFinish`` ones when the caller owns the registry); the number released.
        """
        if not isinstance(owns_registry, bool):
            raise TypeError("owns_registry must be a bool")
        if not owns_registry:
            return 0
        drop = {RefLifetime.UntilContextDrop, RefLifetime.UntilParentFinish}
        return self._release(lambda e: e.lifetime in drop)

    async def alen(self) -> int:
        return self.len()

    async def ais_empty(self) -> bool:
        return self.is_empty()

    async def akeys(self) -> list[RegistryKey]:
        return self.keys()

    async def alifetime_of(self, key: RegistryKey) -> RefLifetime | None:
        return self.lifetime_of(key)

    async def aget_remote(self, key: RegistryKey) -> RemoteRefDescriptor | None:
        return self.get_remote(key)

    async def ais_remote(self, key: RegistryKey) -> bool:
        return self.is_remote(key)

    async def aremote_entries(self) -> list[tuple[RegistryKey, RemoteRefDescriptor]]:
        return self.remote_entries()

    async def aremove(self, key: RegistryKey) -> bool:
        return self.remove(key)

    async def adrain(self) -> int:
        return self.drain()

    async def aclear_on_context_drop(self, owns_registry: bool) -> int:
        return self.clear_on_context_drop(owns_registry)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[RegistryKey]:
        return iter(self.keys())

    def __repr__(self) -> str:
        return f"SessionRefRegistry(len={len(self._entries)})"

    # -- blazen's side: what the engine and events call --------------------------------
    def insert(
        self, value: Any, lifetime: RefLifetime = RefLifetime.UntilContextDrop
    ) -> RegistryKey:
        """Record a live value (once per object) and return its key."""
        if not isinstance(lifetime, RefLifetime):
            raise TypeError(f"lifetime must be a RefLifetime, not {type(lifetime).__name__}")
        with self._lock:
            key = self._by_id.get(id(value))
            if key is not None and self._entries[key].live is value:
                return key
            key = RegistryKey.new_random()
            self._entries[key] = _Entry(value, lifetime, implements_protocol(value))
            self._by_id[id(value)] = key
            return key

    def discard(self, value: Any) -> bool:
        """Release the entry holding this very object, if any; ``True`` if there was one."""
        with self._lock:
            key = self._by_id.get(id(value))
            if key is None or self._entries[key].live is not value:
                return False
            self._forget(key, self._entries.pop(key))
            return True

    def get(self, key: RegistryKey) -> Any:
        """The live value under ``key``; ``SessionRefError`` once it has been released."""
        entry = self._entries.get(_key(key))
        if entry is None:
            raise SessionRefError(
                f"session ref {key} is no longer available (it was released, or the run "
                f"was resumed in another process)"
            )
        return entry.live

    def __contains__(self, key: object) -> bool:
        return isinstance(key, RegistryKey) and key in self._entries

    def snapshot_refs(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """What a snapshot under ``PickleOrSerialize`` carries: serialized protocol values
        (``{key: {"type_tag", "data"}}``) and the keys of the values it cannot carry.

        ``UntilSnapshot`` entries are released first; a value whose
        ``__blazen_serialize__`` raises stays a live reference and is listed as dropped.
        """
        self._release(lambda e: e.lifetime is RefLifetime.UntilSnapshot)
        serialized: dict[str, dict[str, Any]] = {}
        dropped: list[str] = []
        for key, entry in list(self._entries.items()):
            framed = self._restored.get(key)
            if framed is None and entry.serializable:
                try:
                    framed = serialize_framed(entry.live)[1]
                except SessionRefError:
                    framed = None
            if framed is None:
                dropped.append(str(key))
                continue
            serialized[str(key)] = {"type_tag": split_frame(framed)[0], "data": list(framed)}
        return serialized, dropped

    def restore_refs(self, entries: Any) -> int:
        """Rebuild serialized values from snapshot metadata under their original keys.

        Raises ``SessionRefError`` (a ``RuntimeError``) when an entry is malformed or its
        class is not defined in this process. Returns the number restored.
        """
        if not isinstance(entries, dict):
            raise SessionRefError(f"{SERIALIZED_REFS_KEY} must be a map of key -> record")
        rebuilt: list[tuple[RegistryKey, Any, bytes]] = []
        for raw_key, record in entries.items():
            key = _parse_key(raw_key)
            framed = _record_bytes(raw_key, record)
            rebuilt.append((key, deserialize_framed(framed), framed))
        with self._lock:
            for key, value, framed in rebuilt:
                self._entries[key] = _Entry(value, RefLifetime.UntilContextDrop, True)
                self._by_id[id(value)] = key
                self._restored[key] = framed
        return len(rebuilt)

    def _release(self, which: Callable[[_Entry], bool]) -> int:
        with self._lock:
            doomed = [k for k, e in self._entries.items() if which(e)]
            for k in doomed:
                self._forget(k, self._entries.pop(k))
            return len(doomed)

    def _forget(self, key: RegistryKey, entry: _Entry) -> None:
        """Drop the side indexes of a removed entry (the caller holds the lock)."""
        if self._by_id.get(id(entry.live)) == key:
            del self._by_id[id(entry.live)]
        self._restored.pop(key, None)


def _key(key: Any) -> RegistryKey:
    if not isinstance(key, RegistryKey):
        raise TypeError(f"expected a RegistryKey, not {type(key).__name__}")
    return key


def _parse_key(raw: Any) -> RegistryKey:
    try:
        return RegistryKey(raw)
    except (TypeError, ValueError) as exc:
        raise SessionRefError(f"serialized session ref key {raw!r} is not a UUID") from exc


def _record_bytes(raw_key: Any, record: Any) -> bytes:
    data = record.get("data") if isinstance(record, dict) else None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, list):
        try:
            return bytes(data)
        except (TypeError, ValueError):
            pass
    raise SessionRefError(f"serialized session ref {raw_key!r} has no byte data")


_current: ContextVar[SessionRefRegistry | None] = ContextVar(
    "blazen_session_registry", default=None
)


def current_registry() -> SessionRefRegistry | None:
    """The registry of the run whose code is executing here (its running step), if any."""
    registry = _current.get()
    if registry is None:
        call = current_step.get()
        if call is not None and call.owner is not None:
            found: SessionRefRegistry = call.owner.session_refs
            return found
    return registry


@contextmanager
def using_registry(registry: SessionRefRegistry) -> Iterator[SessionRefRegistry]:
    """Make ``registry`` current for the block (and the tasks and threads it starts)."""
    token = _current.set(registry)
    try:
        yield registry
    finally:
        _current.reset(token)
