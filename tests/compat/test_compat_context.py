"""Context, ctx.state (StateNamespace) and ctx.session (SessionNamespace), from a step."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step

from ._util import payload

Probe = Callable[[Context], Awaitable[Any]]


async def in_step(probe: Probe) -> Any:
    """Run ``probe(ctx)`` inside a one-step workflow and return what it returned."""

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        return StopEvent(result={"out": await probe(ctx)})

    return (await payload(Workflow("probe", [s])))["out"]


class Handle:
    pass


async def test_set_get_and_defaults() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set("n", 42)
        ctx.set("n", "overwritten")
        ctx.set("j", {"nested": [1, 2.5, None, True, "s"]})
        return [ctx.get("n"), ctx.get("j"), ctx.get("missing"), ctx.get("missing", 99)]

    assert await in_step(probe) == ["overwritten", {"nested": [1, 2.5, None, True, "s"]}, None, 99]


async def test_a_stored_none_gives_the_default() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set("none", None)
        return [ctx.get("none"), ctx.get("none", "fallback")]

    assert await in_step(probe) == [None, "fallback"]


async def test_values_come_back_as_their_type() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set("b", b"\x00\x01")
        ctx.set("ba", bytearray(b"\xaa"))
        ctx.set("h", Handle())
        return [ctx.get("b"), ctx.get("ba"), type(ctx.get("h")).__name__]

    assert await in_step(probe) == [b"\x00\x01", b"\xaa", "Handle"]


async def test_get_bytes_with_defaults() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set_bytes("raw", b"\xff\xfe")
        return [
            ctx.get_bytes("raw"),
            ctx.get_bytes("missing"),
            ctx.get_bytes("missing", b"\x09"),
            ctx.get_bytes("missing", [7, 8]),
            await ctx.aget_bytes("raw"),
            await ctx.aget_bytes("missing", b"d"),
        ]

    assert await in_step(probe) == [b"\xff\xfe", None, b"\x09", b"\x07\x08", b"\xff\xfe", b"d"]


async def test_get_bytes_of_other_data_is_the_default() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set("j", {"not": "bytes"})
        return [ctx.get_bytes("j"), ctx.get_bytes("j", b"d")]

    assert await in_step(probe) == [None, b"d"]


async def test_set_bytes_takes_a_list_of_ints() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.set_bytes("l", [1, 2])
        return ctx.get("l")

    assert await in_step(probe) == b"\x01\x02"


async def test_async_twins() -> None:
    async def probe(ctx: Context) -> Any:
        await ctx.aset("score", 0.75)
        await ctx.aset_bytes("blob", b"\x00")
        rid = await ctx.arun_id()
        return [
            await ctx.aget("score"),
            await ctx.aget("nope", "fb"),
            await ctx.aget_bytes("blob"),
            rid == ctx.run_id(),
        ]

    assert await in_step(probe) == [0.75, "fb", b"\x00", True]


async def test_run_id_is_a_uuid_string() -> None:
    async def probe(ctx: Context) -> Any:
        return ctx.run_id()

    rid = await in_step(probe)
    assert isinstance(rid, str)
    assert rid.count("-") == 4


async def test_keys_must_be_strings() -> None:
    async def probe(ctx: Context) -> Any:
        errors = []
        for call in (lambda: ctx.set(1, 1), lambda: ctx.get(1)):  # type: ignore[arg-type]
            try:
                call()
            except TypeError:
                errors.append("TypeError")
        return errors

    assert await in_step(probe) == ["TypeError", "TypeError"]


async def test_send_event_and_stream() -> None:
    @step
    async def produce(ctx: Context, ev: StartEvent) -> Any:
        ctx.write_event_to_stream(Event("Progress", i=1))
        await ctx.awrite_event_to_stream(Event("Progress", i=2))
        ctx.send_event(Event("Next", via="sync"))
        await ctx.asend_event(Event("Next", via="async"))
        return None

    @step(accepts=["Next"])
    async def consume(ctx: Context, ev: Event) -> Any:
        seen = ctx.get("seen", [])
        seen.append(ev.via)
        ctx.set("seen", seen)
        return StopEvent(result=sorted(seen)) if len(seen) == 2 else None

    handler = await Workflow("send", [produce, consume]).run_with_handler()
    progress = [e.i async for e in handler.stream_events() if e.event_type == "Progress"]
    assert (await handler.result()).result == ["async", "sync"]
    assert progress == [1, 2]


async def test_context_repr_is_a_string() -> None:
    async def probe(ctx: Context) -> Any:
        return [isinstance(repr(x), str) for x in (ctx, ctx.state, ctx.session)]

    assert await in_step(probe) == [True, True, True]


async def test_state_namespace() -> None:
    async def probe(ctx: Context) -> Any:
        ctx.state.set("count", 5)
        ctx.state["x"] = [1, 2]
        await ctx.state.aset("a", 7)
        ctx.state.set_bytes("buf", b"abc")
        try:
            ctx.state["missing"]
            missing = "no error"
        except KeyError:
            missing = "KeyError"
        return [
            ctx.state.get("count"),
            ctx.state["x"],
            await ctx.state.aget("a"),
            ctx.state.get("missing", "sd"),
            await ctx.state.aget("missing", "ad"),
            "x" in ctx.state,
            "missing" in ctx.state,
            ctx.get("count"),
            ctx.state.get_bytes("buf"),
            ctx.state.get_bytes("missing", [1, 2]),
            await ctx.state.aget_bytes("buf"),
            await ctx.state.aget_bytes("missing", b"d"),
            missing,
        ]

    assert await in_step(probe) == [
        5, [1, 2], 7, "sd", "ad", True, False, 5, b"abc", b"\x01\x02", b"abc", b"d", "KeyError"
    ]  # fmt: skip


async def test_session_namespace_keeps_identity() -> None:
    conn = sqlite3.connect(":memory:")
    handle = Handle()

    async def probe(ctx: Context) -> Any:
        ctx.session.set("conn", conn)
        ctx.session["h"] = handle
        await ctx.session.aset("a", handle)
        out = [
            ctx.session.get("conn") is conn,
            ctx.session["h"] is handle,
            await ctx.session.aget("a") is handle,
            ctx.session.get("missing", "d"),
            await ctx.session.aget("missing", "ad"),
            ctx.session.has("conn"),
            await ctx.session.ahas("a"),
            "h" in ctx.session,
            "missing" in ctx.session,
        ]
        ctx.session.remove("conn")
        await ctx.session.aremove("a")
        ctx.session.remove("never-set")
        try:
            ctx.session["conn"]
            out.append("no error")
        except KeyError:
            out.append("KeyError")
        return [*out, ctx.session.has("conn"), await ctx.session.ahas("a")]

    try:
        assert await in_step(probe) == [
            True, True, True, "d", "ad", True, True, True, False, "KeyError", False, False
        ]  # fmt: skip
    finally:
        conn.close()


async def test_unpicklable_values_set_on_the_context_stay_live() -> None:
    async def probe(ctx: Context) -> Any:
        fn = lambda x: x * 2  # noqa: E731
        ctx.set("fn", fn)
        return [ctx.get("fn") is fn, ctx.get("fn")(21), "fn" in ctx.state]

    assert await in_step(probe) == [True, 42, True]
