"""The append-only buffer behind ``handler.stream_events()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from blazen.events import Event

__all__ = ["EventStream"]


class EventStream:
    """Events in publication order; every reader sees all of them, then the end."""

    __slots__ = ("_closed", "_events", "_waiters")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def publish(self, event: Event) -> None:
        if self._closed:
            return
        self._events.append(event)
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def read(self) -> AsyncIterator[Event]:
        i = 0
        while True:
            while i < len(self._events):
                yield self._events[i]
                i += 1
            if self._closed:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
