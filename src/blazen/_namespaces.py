"""``ctx.state`` (persisted values) and ``ctx.session`` (live references) namespaces."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from blazen.errors import ContextError

if TYPE_CHECKING:
    from blazen.context import Context

__all__ = ["SessionNamespace", "StateNamespace"]


class StateNamespace(MutableMapping[str, Any]):
    """The persistable namespace: the same store and the same tier dispatch as ``ctx.set``."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def set(self, key: str, value: Any) -> None:
        self._ctx.set(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        return self._ctx.get(key, default)

    def set_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self._ctx.set_bytes(key, data)

    def get_bytes(self, key: str) -> bytes | None:
        return self._ctx.get_bytes(key)

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
    """Live in-process references, identity preserved; never written into a snapshot as such."""

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
        return self._refs.pop(key, None)

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise ContextError(f"session keys must be str, not {type(key).__name__} ({key!r})")
        self._refs[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._refs[key]

    def __delitem__(self, key: str) -> None:
        del self._refs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._refs))

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        return f"<ctx.session keys={list(self._refs)!r}>"
