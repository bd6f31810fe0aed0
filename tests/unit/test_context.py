"""``Context``: tier dispatch, value semantics, direct StateValue access and key errors."""

from __future__ import annotations

import collections
import datetime
import decimal
import pickle
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from blazen import Context, ContextError, StateValue


@dataclass
class Point:
    x: int
    y: int


class Opaque:
    """A plain class: picklable, compared by value for the test."""

    def __init__(self, items: list[int]) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.items == self.items


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    s = socket.socket()
    yield s
    s.close()


# -- tier dispatch ------------------------------------------------------------------------
@pytest.mark.parametrize("value", [b"raw", bytearray(b"raw"), memoryview(b"raw")])
def test_binary_values_are_bytes_tier(ctx: Context, value: Any) -> None:
    ctx.set("k", value)
    sv = ctx.get_value("k")
    assert sv == StateValue.Bytes(b"raw")
    assert ctx.get("k") == b"raw"
    assert ctx.get_bytes("k") == b"raw"


@pytest.mark.parametrize(
    "value",
    [
        "text",
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        True,
        False,
        None,
        [],
        {},
        {"nested": [1, 2.0, "three", None, {"deep": [True]}]},
        [[1], {"a": []}],
    ],
)
def test_json_compatible_values_are_json_tier(ctx: Context, value: Any) -> None:
    ctx.set("k", value)
    sv = ctx.get_value("k")
    assert isinstance(sv, StateValue.Json)
    assert sv.value == value
    got = ctx.get("k")
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    "value",
    [
        (1, 2, (3,)),
        {1, 2, 3},
        frozenset({"a"}),
        datetime.datetime(2024, 5, 17, 12, 30, tzinfo=datetime.timezone.utc),
        datetime.date(2020, 1, 1),
        decimal.Decimal("1.10"),
        Point(1, 2),
        Opaque([1, 2]),
        {1: "int keys"},
        {"mixed": (1, 2)},
        collections.OrderedDict(a=1),
        collections.defaultdict(list, a=[1]),
        2**70,
        float("inf"),
        uuid.UUID(int=7),
    ],
    ids=repr,
)
def test_picklable_values_are_native_tier_and_round_trip(ctx: Context, value: Any) -> None:
    ctx.set("k", value)
    sv = ctx.get_value("k")
    assert isinstance(sv, StateValue.Native)
    assert pickle.loads(sv.data) == value
    got = ctx.get("k")
    assert got == value
    assert type(got) is type(value)


def test_nan_round_trips_natively(ctx: Context) -> None:
    ctx.set("k", float("nan"))
    assert ctx.get_value("k").is_native()  # type: ignore[union-attr]
    got = ctx.get("k")
    assert got != got


def test_unpicklable_values_are_live_references(ctx: Context, sock: socket.socket) -> None:
    fn = lambda: 42  # noqa: E731
    lock = threading.Lock()
    ctx.set("fn", fn)
    ctx.set("sock", sock)
    ctx.set("lock", lock)
    assert ctx.get("fn") is fn
    assert ctx.get("sock") is sock
    assert ctx.get("lock") is lock
    # Not a StateValue: they live in the session namespace, identity preserved.
    assert ctx.get_value("fn") is None
    assert ctx.session.get("sock") is sock
    assert ctx.session.has("lock")


def test_a_key_moves_between_tiers_cleanly(ctx: Context) -> None:
    fn = lambda: 1  # noqa: E731
    ctx.set("k", {"a": 1})
    ctx.set("k", fn)
    assert ctx.get("k") is fn
    assert ctx.get_value("k") is None
    ctx.set("k", "plain")
    assert ctx.get("k") == "plain"
    assert not ctx.session.has("k")
    ctx.set("k", fn)
    ctx.set("k", (1,))
    assert ctx.get("k") == (1,)
    assert not ctx.session.has("k")


def test_set_with_a_state_value_stores_it_directly(ctx: Context) -> None:
    ctx.set("j", StateValue.Json([1]))
    ctx.set("n", StateValue.Native(pickle.dumps({1})))
    assert ctx.get("j") == [1]
    assert ctx.get("n") == {1}


def test_missing_keys(ctx: Context) -> None:
    assert ctx.get("nope") is None
    assert ctx.get("nope", "fallback") == "fallback"
    assert ctx.get_bytes("nope") is None
    assert ctx.get_value("nope") is None


# -- value semantics -------------------------------------------------------------------
def test_mutating_what_get_returned_does_not_change_the_store(ctx: Context) -> None:
    ctx.set("d", {"items": [1, 2], "meta": {"n": 1}})
    got = ctx.get("d")
    got["items"].append(3)
    got["meta"]["n"] = 99
    got["new"] = True
    assert ctx.get("d") == {"items": [1, 2], "meta": {"n": 1}}

    ctx.set("l", [[1], [2]])
    lst = ctx.get("l")
    lst[0].append(1)
    assert ctx.get("l") == [[1], [2]]

    ctx.set("o", Opaque([1]))
    obj = ctx.get("o")
    obj.items.append(2)
    assert ctx.get("o") == Opaque([1])
    assert ctx.get("o") is not ctx.get("o")


def test_mutating_the_original_after_set_does_not_change_the_store(ctx: Context) -> None:
    data = {"items": [1]}
    ctx.set("d", data)
    data["items"].append(2)
    assert ctx.get("d") == {"items": [1]}
    point = Point(1, 2)
    ctx.set("p", point)
    point.x = 100
    assert ctx.get("p") == Point(1, 2)


def test_set_again_replaces(ctx: Context) -> None:
    ctx.set("d", {"v": 1})
    got = ctx.get("d")
    got["v"] = 2
    ctx.set("d", got)
    assert ctx.get("d") == {"v": 2}


# -- bytes -------------------------------------------------------------------------------
def test_set_bytes_keeps_bytes_without_copy(ctx: Context) -> None:
    data = bytes(range(256)) * 1000
    ctx.set_bytes("blob", data)
    assert ctx.get_bytes("blob") is data
    assert ctx.get("blob") is data
    assert ctx.get_value("blob") == StateValue.Bytes(data)
    ctx.set("blob2", data)
    assert ctx.get_bytes("blob2") is data


def test_set_bytes_copies_mutable_buffers(ctx: Context) -> None:
    buf = bytearray(b"abc")
    ctx.set_bytes("b", buf)
    buf[0] = ord("z")
    assert ctx.get_bytes("b") == b"abc"
    ctx.set_bytes("m", memoryview(b"xyz")[1:])
    assert ctx.get_bytes("m") == b"yz"


def test_set_bytes_with_str_errors_naming_the_key(ctx: Context) -> None:
    with pytest.raises(ContextError, match="'payload'") as info:
        ctx.set_bytes("payload", "not bytes")  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)


def test_get_bytes_on_a_non_bytes_value_gives_the_default(ctx: Context) -> None:
    # As in the Rust-core package: a key holding another kind of value reads as absent.
    ctx.set("j", {"a": 1})
    assert ctx.get_bytes("j") is None
    assert ctx.get_bytes("j", [1, 2]) == b"\x01\x02"
    assert ctx.get("j") == {"a": 1}  # the value itself is untouched
    with pytest.raises(ContextError, match="default must be bytes or a list of ints"):
        ctx.get_bytes("j", ["x"])  # type: ignore[list-item]


# -- direct StateValue access ---------------------------------------------------------
def test_set_value_get_value_each_variant(ctx: Context) -> None:
    native = StateValue.Native(pickle.dumps(Point(3, 4)))
    ctx.set_value("j", StateValue.Json({"a": [1]}))
    ctx.set_value("b", StateValue.Bytes(b"\x00\x01"))
    ctx.set_value("n", native)
    assert ctx.get_value("j") == StateValue.Json({"a": [1]})
    assert ctx.get_value("b") == StateValue.Bytes(b"\x00\x01")
    assert ctx.get_value("n") == native
    assert ctx.get("j") == {"a": [1]}
    assert ctx.get_bytes("b") == b"\x00\x01"
    assert ctx.get("n") == Point(3, 4)


def test_get_value_with_match(ctx: Context) -> None:
    ctx.set("j", [1, 2])
    ctx.set("b", b"bin")
    ctx.set("n", Point(1, 1))
    kinds = []
    for key in ("j", "b", "n"):
        match ctx.get_value(key):
            case StateValue.Json(value=v):
                kinds.append(("json", v))
            case StateValue.Bytes(data=d):
                kinds.append(("bytes", d))
            case StateValue.Native(data=p):
                kinds.append(("native", pickle.loads(p)))
    assert kinds == [("json", [1, 2]), ("bytes", b"bin"), ("native", Point(1, 1))]


def test_get_value_json_is_a_copy(ctx: Context) -> None:
    ctx.set("j", {"a": [1]})
    sv = ctx.get_value("j")
    assert isinstance(sv, StateValue.Json)
    sv.value["a"].append(2)
    assert ctx.get("j") == {"a": [1]}


def test_forwarding_a_native_value_keeps_its_bytes_exact(ctx: Context) -> None:
    # Bytes that are a valid pickle but would re-encode differently (protocol 2 here).
    original = pickle.dumps({"when": datetime.date(2021, 2, 3)}, protocol=2)
    assert original != pickle.dumps(pickle.loads(original), protocol=5)
    ctx.set_value("src", StateValue.Native(original))
    fwd = ctx.get_value("src")
    assert fwd is not None
    ctx.set_value("dst", fwd)
    dst = ctx.get_value("dst")
    assert isinstance(dst, StateValue.Native)
    assert dst.data == original
    assert ctx.get("dst") == {"when": datetime.date(2021, 2, 3)}


def test_get_value_never_unpickles(ctx: Context) -> None:
    # A Native value whose unpickling would fail: get_value must not try.
    bogus = StateValue.Native(b"\x80\x05cno_such_module\nNoSuchClass\n.")
    ctx.set_value("n", bogus)
    assert ctx.get_value("n") == bogus
    with pytest.raises(ContextError, match="'n'") as info:
        ctx.get("n")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_set_value_rejects_non_state_values(ctx: Context) -> None:
    with pytest.raises(ContextError, match="'k'"):
        ctx.set_value("k", {"a": 1})  # type: ignore[arg-type]


# -- errors leave the store intact ----------------------------------------------------
@pytest.mark.parametrize("bad_key", [1, None, b"k", ("t",)])
def test_non_str_keys_error(ctx: Context, bad_key: Any) -> None:
    with pytest.raises(ContextError, match="keys must be str"):
        ctx.set(bad_key, 1)
    with pytest.raises(ContextError):
        ctx.get(bad_key)
    with pytest.raises(ContextError):
        ctx.set_bytes(bad_key, b"x")
    with pytest.raises(ContextError):
        ctx.get_bytes(bad_key)
    with pytest.raises(ContextError):
        ctx.set_value(bad_key, StateValue.Json(1))
    with pytest.raises(ContextError):
        ctx.get_value(bad_key)


def test_failed_calls_leave_stored_data_intact(ctx: Context) -> None:
    ctx.set("k", {"keep": [1]})
    ctx.set_bytes("b", b"keep")
    with pytest.raises(ContextError):
        ctx.set_bytes("k", "text")  # type: ignore[arg-type]
    with pytest.raises(ContextError):
        ctx.set_value("k", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ContextError):
        ctx.set_value("b", StateValue.Json(object()))
    with pytest.raises(ContextError):
        ctx.set_bytes("b", 123)  # type: ignore[arg-type]
    with pytest.raises(ContextError):
        ctx.set(7, "x")  # type: ignore[arg-type]
    assert ctx.get("k") == {"keep": [1]}
    assert ctx.get_bytes("b") == b"keep"
    assert sorted(ctx.keys()) == ["b", "k"]


def test_context_error_is_a_workflow_error_and_a_type_error() -> None:
    from blazen import WorkflowError

    assert issubclass(ContextError, WorkflowError)
    assert issubclass(ContextError, TypeError)


def test_run_id_is_a_uuid(ctx: Context) -> None:
    rid = ctx.run_id()
    assert str(uuid.UUID(rid)) == rid


def test_keys_lists_persisted_values(ctx: Context) -> None:
    ctx.set("a", 1)
    ctx.set_bytes("b", b"")
    ctx.set_value("c", StateValue.Json(None))
    assert sorted(ctx.keys()) == ["a", "b", "c"]


# -- async aliases ----------------------------------------------------------------------
async def test_async_aliases(ctx: Context) -> None:
    await ctx.aset("k", {"a": 1})
    assert await ctx.aget("k") == {"a": 1}
    assert await ctx.aget("missing", 5) == 5
    data = b"bytes"
    await ctx.aset_bytes("b", data)
    assert await ctx.aget_bytes("b") is data
    await ctx.aset_value("v", StateValue.Bytes(b"v"))
    assert await ctx.aget_value("v") == StateValue.Bytes(b"v")


def test_self_referencing_value_round_trips_natively(ctx: Context) -> None:
    loop: list[object] = []
    loop.append(loop)
    ctx.set("loop", loop)
    assert ctx.get_value("loop").is_native()  # type: ignore[union-attr]
    got = ctx.get("loop")
    assert got[0] is got


def test_write_event_to_stream_needs_a_run_and_an_event(ctx: Context) -> None:
    from blazen import Event, WorkflowError

    with pytest.raises(WorkflowError, match="not attached"):
        ctx.write_event_to_stream(Event("Note"))
    with pytest.raises(ContextError):
        ctx.write_event_to_stream("not an event")  # type: ignore[arg-type]
