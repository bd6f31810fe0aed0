"""In-process wake-ups: a store's writes poke every subscriber, whatever its thread or loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["Signals"]


class _Subscriber:
    """One subscription: a flag set by ``poke`` (from any thread) and awaited by ``wait``."""

    def __init__(self, signals: Signals) -> None:
        self._signals = signals
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flag: asyncio.Event | None = None
        self._pending = False

    def poke(self) -> None:
        """Wake the waiter (or the next ``wait``)."""
        self._pending = True
        loop, flag = self._loop, self._flag
        if loop is not None and flag is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(flag.set)

    async def wait(self, timeout: float) -> bool:
        """Return on a poke (``True``) or after ``timeout`` seconds (``False``)."""
        if self._flag is None:
            self._loop = asyncio.get_running_loop()
            self._flag = asyncio.Event()
        if self._pending:
            self._pending = False
            self._flag.clear()
            return True
        try:
            await asyncio.wait_for(self._flag.wait(), max(timeout, 0.0))
        except asyncio.TimeoutError:
            return False
        finally:
            self._flag.clear()
        self._pending = False
        return True

    async def close(self) -> None:
        """Stop receiving pokes."""
        self._signals.remove(self)


class Signals:
    """The subscribers of one store."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._mutex = threading.Lock()

    def subscribe(self) -> _Subscriber:
        """A new subscription."""
        subscriber = _Subscriber(self)
        with self._mutex:
            self._subscribers.add(subscriber)
        return subscriber

    def remove(self, subscriber: _Subscriber) -> None:
        """Forget a subscription."""
        with self._mutex:
            self._subscribers.discard(subscriber)

    def notify(self) -> None:
        """Poke every subscriber."""
        with self._mutex:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.poke()
