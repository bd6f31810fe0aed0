"""``PerLoop``: one resource per event loop, closed with its loop or by ``close()``."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import pytest

from blazen.stores._loops import PerLoop


@dataclass
class Resource:
    """A stand-in connection pool that records which loop made and closed it."""

    loop: asyncio.AbstractEventLoop
    closed_in: list[asyncio.AbstractEventLoop | None] = field(default_factory=list)


class Opened:
    """Opens ``Resource`` objects and remembers them."""

    def __init__(self) -> None:
        self.made: list[Resource] = []
        self.dropped: list[Resource] = []

    async def open(self) -> Resource:
        resource = Resource(asyncio.get_running_loop())
        self.made.append(resource)
        return resource

    async def close(self, resource: Resource) -> None:
        resource.closed_in.append(asyncio.get_running_loop())

    def drop(self, resource: Resource) -> None:
        self.dropped.append(resource)

    def per_loop(self) -> PerLoop[Resource]:
        return PerLoop(self.open, self.close, self.drop)


def test_each_asyncio_run_gets_its_own_resource_closed_with_its_loop() -> None:
    opened = Opened()
    per_loop = opened.per_loop()

    async def use_twice() -> Resource:
        first, second = await per_loop.get(), await per_loop.get()
        assert first is second
        return first

    one, two = asyncio.run(use_twice()), asyncio.run(use_twice())
    assert one is not two
    assert [r.closed_in for r in opened.made] == [[one.loop], [two.loop]]  # by loop shutdown
    assert opened.dropped == []


async def test_concurrent_first_calls_open_one_resource() -> None:
    opened = Opened()
    per_loop = opened.per_loop()
    got = await asyncio.gather(*(per_loop.get() for _ in range(10)))
    assert len(opened.made) == 1
    assert all(r is got[0] for r in got)
    await per_loop.close()
    assert got[0].closed_in == [asyncio.get_running_loop()]


async def test_close_closes_the_running_loops_resource_and_those_of_other_threads() -> None:
    opened = Opened()
    per_loop = opened.per_loop()
    mine = await per_loop.get()
    other_loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()  # used only inside other_loop

    async def hold() -> None:
        await per_loop.get()
        ready.set()
        await stop.wait()

    thread = threading.Thread(target=other_loop.run_until_complete, args=(hold(),))
    thread.start()
    await asyncio.to_thread(ready.wait)
    await per_loop.close()  # the other loop runs in its thread: its resource is closed there
    other_loop.call_soon_threadsafe(stop.set)
    await asyncio.to_thread(thread.join)
    other_loop.close()
    theirs = next(r for r in opened.made if r is not mine)
    assert mine.closed_in == [asyncio.get_running_loop()]
    assert theirs.closed_in == [other_loop]
    assert opened.dropped == []


def test_a_resource_whose_loop_is_gone_is_dropped() -> None:
    opened = Opened()
    per_loop = opened.per_loop()
    loop = asyncio.new_event_loop()
    stale = loop.run_until_complete(per_loop.get())  # no shutdown_asyncgens: stays open
    assert stale.closed_in == []
    asyncio.run(per_loop.close())
    assert opened.dropped == [stale]
    loop.close()


def test_a_failed_open_is_retried() -> None:
    calls: list[int] = []

    async def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("refused")
        return len(calls)

    async def noop(value: int) -> None:
        return None

    per_loop: PerLoop[int] = PerLoop(flaky, noop, lambda value: None)

    async def main() -> int:
        with pytest.raises(OSError, match="refused"):
            await per_loop.get()
        return await per_loop.get()

    assert asyncio.run(main()) == 2
