"""The Context as steps see it during a run: fan-in, state objects, live references."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blazen import BlazenState, Context, Event, StartEvent, StateValue, StopEvent, Workflow, step


class Text(Event):
    text: str


class Length(Event):
    n: int


class Upper(Event):
    text: str


class Words(Event):
    words: list[str]


@step
async def split(ctx: Context, ev: StartEvent) -> list[Event]:
    return [Text(text=ev.text), Text(text=ev.text.upper())]


async def test_collect_events_fans_in_different_types_in_listed_order() -> None:
    arrived: list[str] = []
    upper_arrived = asyncio.Event()

    @step
    async def measure(ctx: Context, ev: Text) -> Length | Upper:
        if ev.text.isupper():
            return Upper(text=ev.text)
        await asyncio.wait_for(upper_arrived.wait(), 5)  # Length is sent after Upper arrived
        return Length(n=len(ev.text))

    @step
    async def join(ctx: Context, ev: Length | Upper) -> StopEvent | None:
        arrived.append(ev.event_type)
        upper_arrived.set()
        got = ctx.collect_events(ev, [Length, Upper])
        if got is None:
            return None
        length, upper = got
        return StopEvent(result=(length.n, upper.text))

    stop = await (
        await Workflow("fan-in", [split, measure, join]).run_with_handler(text="abc")
    ).result()
    assert arrived == ["Upper", "Length"]
    assert stop.result == (3, "ABC")  # Upper arrived first yet comes back second, as listed


async def test_collect_events_fans_in_repeated_types() -> None:
    @step
    async def many(ctx: Context, ev: StartEvent) -> list[Words]:
        return [Words(words=[str(i)] * i) for i in range(1, 5)]

    @step
    async def join(ctx: Context, ev: Words) -> StopEvent | None:
        got = ctx.collect_events(ev, [Words] * 4)
        return None if got is None else StopEvent(result=sorted(len(e.words) for e in got))

    stop = await (await Workflow("fan-in-repeat", [many, join]).run_with_handler()).result()
    assert stop.result == [1, 2, 3, 4]


@dataclass
class Pipeline(BlazenState):
    query: str
    hits: list[str] = field(default_factory=list)
    client: Any = None
    reconnected: bool = False

    class Meta:
        transient: ClassVar[set[str]] = {"client"}

    def restore(self) -> None:
        self.reconnected = True


async def test_blazen_state_between_steps() -> None:
    @step
    async def begin(ctx: Context, ev: StartEvent) -> Words:
        ctx.set("pipe", Pipeline(query=ev.query, client=object()))
        return Words(words=ev.query.split())

    @step
    def search(ctx: Context, ev: Words) -> StopEvent:
        pipe = ctx.get("pipe")
        assert pipe.client is None
        assert pipe.reconnected
        pipe.hits = [w.upper() for w in ev.words]
        ctx.set("pipe", pipe)
        return StopEvent(result=ctx.get("pipe").hits)

    handler = await Workflow("state-steps", [begin, search]).run_with_handler(query="a b")
    assert (await handler.result()).result == ["A", "B"]
    assert handler.context.get_value("pipe.hits") == StateValue.Json(["A", "B"])


async def test_session_references_keep_identity_across_steps_and_threads() -> None:
    sock = socket.socket()
    lock = threading.Lock()
    try:

        @step
        async def begin(ctx: Context, ev: StartEvent) -> Words:
            ctx.session.set("sock", sock)
            ctx.set("lock", lock)  # unpicklable: kept live by ctx.set too
            return Words(words=[])

        @step
        def use(ctx: Context, ev: Words) -> StopEvent:
            return StopEvent(result=(ctx.session.get("sock") is sock, ctx.get("lock") is lock))

        stop = await (await Workflow("session", [begin, use]).run_with_handler()).result()
        assert stop.result == (True, True)
    finally:
        sock.close()


async def test_values_written_in_threads_are_seen_by_later_steps() -> None:
    @step
    async def begin(ctx: Context, ev: StartEvent) -> list[Words]:
        return [Words(words=[str(i)]) for i in range(8)]

    @step
    def write(ctx: Context, ev: Words) -> Length:
        ctx.set(f"k{ev.words[0]}", {"v": ev.words})
        return Length(n=int(ev.words[0]))

    @step
    async def join(ctx: Context, ev: Length) -> StopEvent | None:
        if ctx.collect_events(ev, [Length] * 8) is None:
            return None
        return StopEvent(result=sorted(ctx.keys()))

    stop = await (await Workflow("thread-writes", [begin, write, join]).run_with_handler()).result()
    assert stop.result == sorted(f"k{i}" for i in range(8))
