"""``ctx.state``, ``ctx.session`` and ``ctx.collect_events``."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from blazen import Context, ContextError, Event, SessionRefRegistry, StateValue
from blazen.session_refs import using_registry


class A(Event):
    n: int = 0


class B(Event):
    s: str = ""


class C(Event):
    pass


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    s = socket.socket()
    yield s
    s.close()


# -- ctx.state ---------------------------------------------------------------------------
def test_state_set_get_shares_the_context_store(ctx: Context) -> None:
    ctx.state.set("a", {"x": 1})
    assert ctx.state.get("a") == {"x": 1}
    assert ctx.get("a") == {"x": 1}
    ctx.set("b", (1, 2))
    assert ctx.state.get("b") == (1, 2)
    assert ctx.state.get("missing") is None
    assert ctx.state.get("missing", 0) == 0


def test_state_uses_the_same_dispatch(ctx: Context) -> None:
    ctx.state["j"] = [1]
    ctx.state["b"] = b"x"
    ctx.state["n"] = {1}
    assert ctx.get_value("j") == StateValue.Json([1])
    assert ctx.get_value("b") == StateValue.Bytes(b"x")
    assert ctx.get_value("n").is_native()  # type: ignore[union-attr]


def test_state_bytes(ctx: Context) -> None:
    data = b"\x00" * 10
    ctx.state.set_bytes("blob", data)
    assert ctx.state.get_bytes("blob") is data
    assert ctx.get_bytes("blob") is data
    assert ctx.state.get_bytes("missing") is None


def test_state_mapping_protocol(ctx: Context) -> None:
    ctx.state["a"] = 1
    ctx.state["b"] = {"c": 2}
    assert ctx.state["a"] == 1
    assert "a" in ctx.state
    assert "zzz" not in ctx.state
    assert 5 not in ctx.state
    assert sorted(ctx.state.keys()) == ["a", "b"]
    assert len(ctx.state) == 2
    assert dict(ctx.state.items()) == {"a": 1, "b": {"c": 2}}
    del ctx.state["a"]
    assert "a" not in ctx.state
    assert ctx.get("a") is None
    assert list(ctx.state) == ["b"]
    with pytest.raises(KeyError):
        ctx.state["a"]
    with pytest.raises(KeyError):
        del ctx.state["a"]


def test_state_values_have_value_semantics(ctx: Context) -> None:
    ctx.state["d"] = {"l": [1]}
    ctx.state["d"]["l"].append(2)
    assert ctx.state["d"] == {"l": [1]}


def test_state_with_a_live_value_is_consistent(ctx: Context, sock: socket.socket) -> None:
    ctx.state["sock"] = sock
    assert ctx.state["sock"] is sock
    assert "sock" in ctx.state
    # A Mapping's keys and membership agree.
    assert ("sock" in ctx.state) == ("sock" in set(ctx.state.keys()))
    del ctx.state["sock"]
    assert "sock" not in ctx.state
    assert not ctx.session.has("sock")


def test_state_rejects_non_str_keys(ctx: Context) -> None:
    with pytest.raises(ContextError):
        ctx.state[1] = "x"  # type: ignore[index]


# -- ctx.session -------------------------------------------------------------------------
def test_session_preserves_identity(ctx: Context, sock: socket.socket) -> None:
    conn = {"a picklable dict": "still kept by reference"}
    ctx.session.set("db", conn)
    ctx.session.set("sock", sock)
    assert ctx.session.get("db") is conn
    assert ctx.session.get("sock") is sock
    assert ctx.get("db") is conn  # ctx.get falls back to live references
    conn["mutated"] = "visible"
    assert ctx.session.get("db")["mutated"] == "visible"


def test_session_set_get_has_remove(ctx: Context) -> None:
    obj = object()
    assert not ctx.session.has("x")
    assert ctx.session.get("x") is None
    assert ctx.session.get("x", 1) == 1
    ctx.session.set("x", obj)
    assert ctx.session.has("x")
    assert ctx.session.remove("x") is obj
    assert not ctx.session.has("x")
    assert ctx.session.remove("x") is None


def test_session_dict_protocol(ctx: Context) -> None:
    a, b = object(), object()
    ctx.session["a"] = a
    ctx.session["b"] = b
    assert ctx.session["a"] is a
    assert "a" in ctx.session
    assert sorted(ctx.session) == ["a", "b"]
    assert len(ctx.session) == 2
    assert dict(ctx.session.items()) == {"a": a, "b": b}
    del ctx.session["a"]
    assert "a" not in ctx.session
    with pytest.raises(KeyError):
        ctx.session["a"]
    with pytest.raises(ContextError):
        ctx.session[3] = 1  # type: ignore[index]


def test_session_values_are_not_persisted_values(ctx: Context) -> None:
    ctx.session["live"] = object()
    assert ctx.get_value("live") is None
    assert "live" not in ctx.keys()  # noqa: SIM118 (Context is not a mapping)


# -- collect_events ----------------------------------------------------------------------
def test_collect_events_of_different_types(ctx: Context) -> None:
    b, a, c = B(s="b"), A(n=1), C()
    assert ctx.collect_events(b, [A, B, C]) is None
    assert ctx.collect_events(a, [A, B, C]) is None
    got = ctx.collect_events(c, [A, B, C])
    assert got is not None
    assert [type(e) for e in got] == [A, B, C]
    assert got[0] is a
    assert got[1] is b
    assert got[2] is c


def test_collect_events_of_a_repeated_type(ctx: Context) -> None:
    events = [A(n=i) for i in range(3)]
    assert ctx.collect_events(events[0], [A, A, A]) is None
    assert ctx.collect_events(events[1], [A, A, A]) is None
    assert ctx.collect_events(events[2], [A, A, A]) == events


def test_collect_events_keeps_extras_for_the_next_round(ctx: Context) -> None:
    a1, a2, b1 = A(n=1), A(n=2), B(s="x")
    assert ctx.collect_events(a1, [A, B]) is None
    assert ctx.collect_events(a2, [A, B]) is None
    assert ctx.collect_events(b1, [A, B]) == [a1, b1]
    b2 = B(s="y")
    assert ctx.collect_events(b2, [A, B]) == [a2, b2]


def test_collect_events_by_type_name(ctx: Context) -> None:
    a, x = A(), Event("Inline", v=1)
    assert ctx.collect_events(x, ["A", "Inline"]) is None
    assert ctx.collect_events(a, ["A", "Inline"]) == [a, x]


def test_collect_events_rejects_an_unexpected_type(ctx: Context) -> None:
    with pytest.raises(ContextError, match="'C'"):
        ctx.collect_events(C(), [A, B])


# -- the Rust-core package's extra spellings ---------------------------------------------
def test_state_get_bytes_default_and_non_bytes_values(ctx: Context) -> None:
    ctx.set_bytes("b", b"\x01\x02")
    ctx.set("j", {"not": "bytes"})
    assert ctx.state.get_bytes("b") == b"\x01\x02"
    assert ctx.state.get_bytes("missing") is None
    assert ctx.state.get_bytes("missing", b"\x09") == b"\x09"
    assert ctx.state.get_bytes("missing", [7, 8]) == b"\x07\x08"
    assert ctx.state.get_bytes("missing", bytearray(b"z")) == b"z"
    assert ctx.state.get_bytes("j", b"d") == b"d"  # not bytes: the default, as upstream
    with pytest.raises(ContextError, match="list of ints"):
        ctx.state.get_bytes("missing", "text")  # type: ignore[arg-type]
    with pytest.raises(ContextError, match=r"0\.\.255"):
        ctx.state.get_bytes("missing", [256])
    with pytest.raises(ContextError, match="keys must be str"):
        ctx.state.get_bytes(1)  # type: ignore[arg-type]


async def test_state_async_twins(ctx: Context) -> None:
    await ctx.state.aset("n", 7)
    await ctx.state.aset_bytes("b", b"abc")
    assert await ctx.state.aget("n") == 7
    assert await ctx.state.aget("missing", 9) == 9
    assert await ctx.state.aget_bytes("b") == b"abc"
    assert await ctx.state.aget_bytes("missing", [1]) == b"\x01"


async def test_session_async_twins_keep_identity(ctx: Context, sock: socket.socket) -> None:
    await ctx.session.aset("conn", sock)
    assert await ctx.session.aget("conn") is sock
    assert await ctx.session.aget("missing", 3) == 3
    assert await ctx.session.ahas("conn")
    assert await ctx.session.aremove("conn") is sock
    assert not await ctx.session.ahas("conn")


def test_session_values_are_recorded_in_the_current_registry(
    ctx: Context, sock: socket.socket
) -> None:
    reg = SessionRefRegistry()
    with using_registry(reg):
        ctx.session["conn"] = sock
        ctx.session.set("n", 5)
        assert [reg.get(k) for k in reg] == [sock, 5]
        del ctx.session["conn"]
        assert [reg.get(k) for k in reg] == [5]
    with pytest.raises(KeyError):
        del ctx.session["conn"]
