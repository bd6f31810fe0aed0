"""One connection resource per event loop, so a store object works from any loop.

Network drivers (asyncpg pools, redis.asyncio clients) belong to the loop that made them. A
store keeps one ``PerLoop`` resource: the running loop's is opened on first use there, and is
closed when that loop shuts down (``asyncio.run`` finalizes a guard async generator while the
loop still runs) or by the store's ``close()``. So ``asyncio.run`` may be called again and
again on one store (the CLI does), and loops in several threads may share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

_T = TypeVar("_T")


@dataclass(slots=True)
class _Slot(Generic[_T]):
    """The resource of one loop, once opened, and the guard that closes it with the loop."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    value: _T | None = None
    guard: AsyncGenerator[None, None] | None = None


class PerLoop(Generic[_T]):
    """A resource per running event loop: ``await get()`` opens it there on first use.

    ``opener`` makes the resource inside the running loop; ``closer`` closes it inside the
    same loop; ``dropper`` releases one whose loop is gone or busy elsewhere (no awaiting).
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[_T]],
        closer: Callable[[_T], Awaitable[None]],
        dropper: Callable[[_T], None],
    ) -> None:
        self._opener = opener
        self._closer = closer
        self._dropper = dropper
        self._slots: dict[asyncio.AbstractEventLoop, _Slot[_T]] = {}
        self._mutex = threading.Lock()

    async def get(self) -> _T:
        """The running loop's resource, opened now if this loop has none yet."""
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is not None and slot.value is not None:
            return slot.value
        with self._mutex:
            slot = self._slots.setdefault(loop, _Slot())
        async with slot.lock:
            if slot.value is None:
                value = await self._opener()
                guard = self._guard(loop, slot, value)
                await guard.__anext__()
                slot.value, slot.guard = value, guard
        return slot.value

    async def _guard(
        self, loop: asyncio.AbstractEventLoop, slot: _Slot[_T], value: _T
    ) -> AsyncGenerator[None, None]:
        """Suspended until closed: by ``close()``, or by the loop's ``shutdown_asyncgens``."""
        try:
            yield
        finally:
            with self._mutex:
                if self._slots.get(loop) is slot:
                    del self._slots[loop]
            with contextlib.suppress(Exception):
                await self._closer(value)

    async def close(self) -> None:
        """Close the running loop's resource (awaited) and drop every other loop's."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            slots, self._slots = self._slots, {}
        for owner, slot in slots.items():
            if slot.value is None or slot.guard is None:
                continue
            if owner is loop:
                await slot.guard.aclose()
            elif owner.is_running() and not owner.is_closed():
                future = asyncio.run_coroutine_threadsafe(slot.guard.aclose(), owner)
                await asyncio.wrap_future(future)
            else:
                self._dropper(slot.value)
