"""``BlazenState``: objects stored field by field, with transient and store_by fields."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from blazen import BlazenState, CallbackFieldStore, Context, ContextError, FieldStore, StateValue
from blazen._context_data import persistence

# An external "object store" for the store_by fields of these tests.
BLOBS: dict[str, Any] = {}
CALLS: list[tuple[str, str]] = []


def save_blob(key: str, value: Any) -> None:
    CALLS.append(("save", key))
    BLOBS[key] = value


def load_blob(key: str) -> Any:
    CALLS.append(("load", key))
    return BLOBS[key]


class CtxBytesStore:
    """A custom FieldStore class: keeps the field as raw bytes under a side key."""

    def save(self, key: str, value: Any, ctx: Any) -> None:
        ctx.set_bytes(f"side/{key}", value.encode())

    def load(self, key: str, ctx: Any) -> Any:
        data = ctx.get_bytes(f"side/{key}")
        return None if data is None else data.decode()


@dataclass
class PipelineState(BlazenState):
    name: str
    items: list[int] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    raw: bytes = b""
    conn: Any = None
    weights: Any = None
    notes: str = ""
    restored: int = 0

    class Meta:
        transient: ClassVar[set[str]] = {"conn"}
        store_by: ClassVar[dict[str, FieldStore]] = {
            "weights": CallbackFieldStore(save_blob, load_blob),
            "notes": CtxBytesStore(),
        }

    def restore(self) -> None:
        # Runs after every field is back; transient fields are already None.
        assert self.conn is None
        self.restored += 1


@dataclass
class Plain(BlazenState):
    a: int
    b: dict[str, int] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def _clear_blobs() -> Iterator[None]:
    BLOBS.clear()
    CALLS.clear()
    return


def make() -> PipelineState:
    return PipelineState(
        name="p", items=[1, 2], tags={"x"}, raw=b"\x00\x01", conn=object(), weights=[0.5], notes="n"
    )


def test_each_field_is_its_own_entry_in_its_best_tier(ctx: Context) -> None:
    ctx.set("state", make())
    assert ctx.get_value("state.name") == StateValue.Json("p")
    assert ctx.get_value("state.items") == StateValue.Json([1, 2])
    assert ctx.get_value("state.tags").is_native()  # type: ignore[union-attr]
    assert ctx.get_value("state.raw") == StateValue.Bytes(b"\x00\x01")
    assert ctx.get_value("state.restored") == StateValue.Json(0)
    meta = ctx.get_value("state.__blazen_meta__")
    assert isinstance(meta, StateValue.Json)
    assert meta.value["type"].endswith("PipelineState")
    assert meta.value["transient"] == ["conn"]
    assert sorted(meta.value["store_by"]) == ["notes", "weights"]
    # Transient and store_by fields are not context entries.
    for absent in ("state", "state.conn", "state.weights", "state.notes"):
        assert ctx.get_value(absent) is None


def test_get_rebuilds_the_object(ctx: Context) -> None:
    ctx.set("state", make())
    got = ctx.get("state")
    assert isinstance(got, PipelineState)
    assert (got.name, got.items, got.tags, got.raw) == ("p", [1, 2], {"x"}, b"\x00\x01")
    assert got.conn is None
    assert got.weights == [0.5]
    assert got.notes == "n"
    assert got.restored == 1  # restore() was called once, after the fields were set


def test_store_by_goes_through_the_field_stores(ctx: Context) -> None:
    ctx.set("state", make())
    assert BLOBS == {"state.weights": [0.5]}
    assert ctx.get_bytes("side/state.notes") == b"n"
    assert ("save", "state.weights") in CALLS
    ctx.get("state")
    assert ("load", "state.weights") in CALLS


def test_field_store_protocol() -> None:
    assert isinstance(CallbackFieldStore(save_blob, load_blob), FieldStore)
    assert isinstance(CtxBytesStore(), FieldStore)
    assert not isinstance(object(), FieldStore)


def test_bad_store_by_is_an_error(ctx: Context) -> None:
    @dataclass
    class Broken(BlazenState):
        x: int = 0

        class Meta:
            store_by: ClassVar[dict[str, object]] = {"x": object()}

    with pytest.raises(ContextError, match="store_by"):
        ctx.set("b", Broken())


def test_keys_show_the_object_once(ctx: Context) -> None:
    ctx.set("state", Plain(1))
    ctx.set("other", 2)
    assert sorted(ctx.keys()) == ["other", "state"]
    assert "state" in ctx.state
    assert sorted(ctx.state) == ["other", "state"]


def test_setting_again_rewrites_only_changed_fields(ctx: Context) -> None:
    view = persistence(ctx)
    obj = Plain(1, {"k": 1})
    ctx.set("s", obj)
    view.start_recording()
    ctx.set("s", obj)
    assert view.take_writes() == {}
    obj.b["k"] = 2
    ctx.set("s", obj)
    assert view.take_writes() == {"s.b": StateValue.Json({"k": 2})}
    obj.a = True  # equal to 1, but another type: rewritten
    ctx.set("s", obj)
    assert view.take_writes() == {"s.a": StateValue.Json(True)}
    assert ctx.get("s").a is True


def test_native_fields_compare_by_their_bytes(ctx: Context) -> None:
    view = persistence(ctx)
    obj = PipelineState(name="p", tags={"a"})
    ctx.set("s", obj)
    view.start_recording()
    ctx.set("s", obj)
    assert "s.tags" not in view.take_writes()
    obj.tags.add("b")
    ctx.set("s", obj)
    assert "s.tags" in view.take_writes()


def test_the_stored_object_has_value_semantics(ctx: Context) -> None:
    obj = Plain(1, {"k": 1})
    ctx.set("s", obj)
    obj.b["k"] = 99
    got = ctx.get("s")
    assert got.b == {"k": 1}
    got.b["k"] = 5
    assert ctx.get("s").b == {"k": 1}
    assert ctx.get("s") is not ctx.get("s")


def test_a_field_can_be_read_and_written_directly(ctx: Context) -> None:
    ctx.set("s", Plain(1, {"k": 1}))
    assert ctx.get("s.a") == 1
    ctx.set("s.a", 7)
    assert ctx.get("s").a == 7


def test_unpicklable_non_transient_field_stays_live(ctx: Context) -> None:
    @dataclass
    class WithLock(BlazenState):
        callback: Any

    fn = lambda: "hi"  # noqa: E731
    ctx.set("w", WithLock(fn))
    assert ctx.get("w").callback is fn


def test_delete_removes_every_field(ctx: Context) -> None:
    ctx.state["s"] = Plain(1)
    del ctx.state["s"]
    assert ctx.keys() == []
    assert ctx.get("s") is None


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    s = socket.socket()
    yield s
    s.close()


def test_replacing_a_state_object_with_a_plain_value(ctx: Context) -> None:
    ctx.set("s", Plain(1))
    ctx.set("s", {"plain": True})
    assert ctx.get("s") == {"plain": True}
    assert ctx.keys() == ["s"]
    assert ctx.get_value("s.a") is None
    ctx.set("s", Plain(2))
    ctx.set("s", 5)
    assert ctx.keys() == ["s"]
    assert ctx.get("s") == 5


def test_replacing_a_live_value_with_a_state_object(ctx: Context, sock: socket.socket) -> None:
    ctx.set("s", sock)
    ctx.set("s", Plain(3))
    assert ctx.get("s") == Plain(3)
    assert not ctx.session.has("s")
    ctx.set("s", sock)
    assert ctx.get("s") is sock
    assert ctx.keys() == []


def test_plain_class_state(ctx: Context) -> None:
    class Counter(BlazenState):
        def __init__(self, n: int) -> None:
            self.n = n
            self._private = "not stored"

    ctx.set("c", Counter(3))
    got = ctx.get("c")
    assert isinstance(got, Counter)
    assert got.n == 3
    assert not hasattr(got, "_private")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"x": 1}, {"x": True}),
        ([1], [1.0]),
        (0.0, -0.0),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ([[0]], [[False]]),
    ],
)
def test_a_change_equal_under_eq_is_still_rewritten(ctx: Context, before: Any, after: Any) -> None:
    @dataclass
    class Holder(BlazenState):
        v: Any

    obj = Holder(before)
    ctx.set("h", obj)
    obj.v = after
    ctx.set("h", obj)
    got = ctx.get("h").v
    assert repr(got) == repr(after)


class InCtx:
    """A FieldStore class: it gets the context, so it can keep the field there."""

    def save(self, key: str, value: Any, ctx: Any) -> None:
        ctx.set_bytes(key, value)

    def load(self, key: str, ctx: Any) -> Any:
        return ctx.get_bytes(key)


def test_callback_field_store_calls_its_callables_without_the_context() -> None:
    calls: list[tuple[Any, ...]] = []

    def save(*args: Any) -> None:
        calls.append(("save", *args))

    def load(*args: Any) -> int:
        calls.append(("load", *args))
        return 7

    store = CallbackFieldStore(save, load)
    store.save("k", 1, object())
    assert store.load("k", object()) == 7
    assert calls == [("save", "k", 1), ("load", "k")]
    assert repr(store) == "CallbackFieldStore(save_fn=..., load_fn=...)"


def test_a_field_store_may_keep_its_data_in_the_context(ctx: Context) -> None:
    in_ctx = InCtx()

    @dataclass
    class Model(BlazenState):
        name: str
        weights: bytes

        class Meta:
            store_by: ClassVar[dict[str, FieldStore]] = {"weights": in_ctx}

    ctx.set("m", Model("tiny", b"\x01\x02"))
    assert ctx.get_bytes("m.weights") == b"\x01\x02"
    assert ctx.keys() == ["m"]
    assert ctx.get("m") == Model("tiny", b"\x01\x02")
    del ctx.state["m"]
    assert ctx.keys() == []
    assert ctx.get_bytes("m.weights") is None
