"""``ctx.state`` (persisted values) and ``ctx.session`` (live references) namespaces."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, Protocol

from blazen.errors import ContextError
from blazen.session_refs import current_registry

__all__ = ["SessionNamespace", "StateNamespace"]


class _Store(Protocol):
    """What ``ctx.state`` needs from its Context (which imports this module, not the reverse)."""

    _session: dict[str, Any]

    def set(self, key: str, value: Any) -> None: ...

    def get(self, key: str, default: Any = None) -> Any: ...

    def set_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None: ...

    def get_bytes(self, key: str, default: Sequence[int] | None = None) -> bytes | None: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...

    def _has(self, key: str) -> bool: ...


class StateNamespace(MutableMapping[str, Any]):
    """The persistable namespace: the same store and the same tier dispatch as ``ctx.set``."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: _Store) -> None:
        self._ctx = ctx

    def set(self, key: str, value: Any) -> None:
        self._ctx.set(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        return self._ctx.get(key, default)

    def set_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self._ctx.set_bytes(key, data)

    def get_bytes(
        self, key: str, default: bytes | bytearray | memoryview | Sequence[int] | None = None
    ) -> bytes | None:
        """The raw bytes under ``key``; ``default`` (as bytes) when absent or not bytes."""
        return self._ctx.get_bytes(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.set(key, value)

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    async def aset_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.set_bytes(key, data)

    async def aget_bytes(
        self, key: str, default: bytes | bytearray | memoryview | Sequence[int] | None = None
    ) -> bytes | None:
        return self.get_bytes(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._ctx.set(key, value)

    def __getitem__(self, key: str) -> Any:
        if not self.__contains__(key):
            raise KeyError(key)
        return self._ctx.get(key)

    def __delitem__(self, key: str) -> None:
        if not self.__contains__(key):
            raise KeyError(key)
        self._ctx.delete(key)

    def __contains__(self, key: object) -> bool:
        if type(key) is not str:
            return False
        return self._ctx._has(key) or key in self._ctx._session

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def _keys(self) -> list[str]:
        # Everything ``in`` and ``[]`` reach: persisted keys, then live references (an
        # unpicklable value set here lives in the session namespace).
        keys = self._ctx.keys()
        seen = set(keys)
        keys.extend(k for k in self._ctx._session if k not in seen)
        return keys

    def __repr__(self) -> str:
        return f"<ctx.state keys={self._keys()!r}>"


class SessionNamespace(MutableMapping[str, Any]):
    """Live in-process references, identity preserved; never written into a snapshot as such.

    While a run's steps execute, each value set here is also recorded in the run's
    session-ref registry (``WorkflowResult.session_refs``).
    """

    __slots__ = ("_refs",)

    def __init__(self, refs: dict[str, Any]) -> None:
        self._refs = refs

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._refs.get(key, default)

    def has(self, key: str) -> bool:
        return key in self._refs

    def remove(self, key: str) -> Any:
        """Remove ``key`` and return its value (``None`` if it was absent)."""
        value = self._refs.pop(key, None)
        registry = current_registry()
        if registry is not None and value is not None:
            registry.discard(value)
        return value

    async def aset(self, key: str, value: Any) -> None:
        self.set(key, value)

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    async def ahas(self, key: str) -> bool:
        return self.has(key)

    async def aremove(self, key: str) -> Any:
        return self.remove(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise ContextError(f"session keys must be str, not {type(key).__name__} ({key!r})")
        self._refs[key] = value
        registry = current_registry()
        if registry is not None:
            registry.insert(value)

    def __getitem__(self, key: str) -> Any:
        return self._refs[key]

    def __delitem__(self, key: str) -> None:
        if key not in self._refs:
            raise KeyError(key)
        self.remove(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._refs))

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        return f"<ctx.session keys={list(self._refs)!r}>"
