"""Synchronisation helpers of the tests: wait on observable state, never on time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from blazen import InputRequestEvent, WorkflowHandler

TURNS = 20  # loop turns after which a step that could start has started (a few suffice)


async def until(check: Callable[[], object], what: str, limit: float = 5.0) -> None:
    """Yield to the loop until ``check()`` is true; fail naming ``what`` after ``limit`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0)


async def turns(n: int = TURNS) -> None:
    """Let every ready task run ``n`` times: the bound of a check that nothing happens."""
    for _ in range(n):
        await asyncio.sleep(0)


async def quiet_loop(limit: float = 5.0) -> None:
    """Yield until this task is the only one left on the loop (every other task ended)."""
    me = asyncio.current_task()
    await until(lambda: asyncio.all_tasks() <= {me}, "the loop is quiet", limit)


async def next_request(handler: WorkflowHandler, limit: float = 5.0) -> InputRequestEvent:
    """Stream ``handler``'s events until its next input request."""

    async def read() -> InputRequestEvent:
        async for ev in handler.stream_events():
            if isinstance(ev, InputRequestEvent):
                return ev
        raise AssertionError("the run ended without asking for input")

    return await asyncio.wait_for(read(), limit)
