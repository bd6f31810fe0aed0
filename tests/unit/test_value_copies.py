"""Value semantics of the Context's JSON tier: what was set or got is a private copy.

``ctx.set`` stores a checked copy and ``ctx.get`` copies only containers (a dict the
garbage collector does not track is flat, so one shallow copy is a full copy). These tests
would catch a copy that is too shallow, a lost type distinction, or a changed error.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazen import Context, ContextError, StateValue
from blazen._jsoncopy import checked_copy, clone_json, json_copy


def same(a: Any, b: Any) -> bool:
    """Equal with the types JSON keeps apart: 1, 1.0 and True differ, as do 0.0 and -0.0."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value``, itself included, depth first."""
    out = []
    if type(value) in (dict, list):
        out.append(value)
        for v in value.values() if type(value) is dict else value:
            out.extend(containers(v))
    return out


SHAPES: list[Any] = [
    {"i": 1, "v": "x"},
    {"items": [1, 2], "meta": {"n": 1}},
    [{"a": [1, {"b": [2]}]}, [], {}],
    {"deep": {"er": {"est": [[{"k": None}]]}}},
    [1, "two", 3.0, True, None],
]


@pytest.mark.parametrize("value", SHAPES)
def test_mutating_every_container_after_set_changes_nothing(ctx: Context, value: Any) -> None:
    original = json_copy(value)
    ctx.set("k", value)
    for c in containers(value):
        if type(c) is dict:
            c["added"] = 1
        else:
            c.append(1)
    assert same(ctx.get("k"), original)


@pytest.mark.parametrize("value", SHAPES)
def test_mutating_every_container_after_get_changes_nothing(ctx: Context, value: Any) -> None:
    ctx.set("k", value)
    got = ctx.get("k")
    again = ctx.get("k")
    ids = {id(c) for c in containers(got)}
    assert ids.isdisjoint(id(c) for c in containers(again)), "two gets share a container"
    for c in containers(got):
        if type(c) is dict:
            c.clear()
        else:
            c.append("junk")
    assert same(ctx.get("k"), value)


def test_a_tracked_flat_dict_and_an_untracked_one_are_both_copied(ctx: Context) -> None:
    import gc

    tracked = {"a": [1], "b": 2}
    tracked["a"] = 1  # flat now, but the collector keeps tracking it
    untracked = {"a": 1, "b": 2}
    assert gc.is_tracked(tracked)
    assert not gc.is_tracked(untracked)
    for key, value in (("t", tracked), ("u", untracked)):
        ctx.set(key, value)
        got = ctx.get(key)
        got["a"] = "changed"
        assert ctx.get(key) == {"a": 1, "b": 2}
        assert got is not value


def test_a_nested_dict_of_atomic_values_is_copied_too(ctx: Context) -> None:
    inner = {"n": 1}
    ctx.set("k", {"inner": inner})
    inner["n"] = 2
    got = ctx.get("k")
    got["inner"]["n"] = 3
    assert ctx.get("k") == {"inner": {"n": 1}}


def test_number_types_and_negative_zero_survive_set_and_get(ctx: Context) -> None:
    value = {"int": 1, "float": 1.0, "bool": True, "neg0": -0.0, "zero": 0.0, "none": None}
    ctx.set("k", value)
    ctx.set("l", list(value.values()))
    got = ctx.get("k")
    assert same(got, value)
    assert same(ctx.get("l"), list(value.values()))
    assert math.copysign(1.0, got["neg0"]) == -1.0
    assert type(got["bool"]) is bool
    assert type(got["int"]) is int
    sv = ctx.get_value("k")
    assert isinstance(sv, StateValue.Json)
    assert same(sv.value, value)


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**64},
        {"small": -(2**63) - 1},
        [1, [float("inf")]],
        {"nan": float("nan")},
        {"nested": {1: "int key"}},
        {"t": (1, 2)},
        [{"s": {"a", "b"}}],
    ],
    ids=repr,
)
def test_containers_with_a_non_json_part_are_native(ctx: Context, value: Any) -> None:
    ctx.set("k", value)
    assert isinstance(ctx.get_value("k"), StateValue.Native)
    got = ctx.get("k")
    if "nan" in value:  # nan != nan
        assert math.isnan(got["nan"])
    else:
        assert got == value


def test_int_bounds_stay_json(ctx: Context) -> None:
    value = {"lo": -(2**63), "hi": 2**64 - 1, "list": [-(2**63), 2**64 - 1]}
    ctx.set("k", value)
    assert isinstance(ctx.get_value("k"), StateValue.Json)
    assert same(ctx.get("k"), value)


class Key(str):
    """A str subclass: not a JSON key, so the dict is stored natively."""


class D(dict):  # type: ignore[type-arg]
    """A dict subclass: not JSON, so a container holding one is stored natively."""


def test_subclasses_are_not_json(ctx: Context) -> None:
    for value in ({Key("a"): 1}, {"d": D(a=1)}, [D()]):
        with pytest.raises(ContextError, match="JSON-compatible"):
            StateValue.Json(value)
        ctx.set("k", value)
        assert isinstance(ctx.get_value("k"), StateValue.Native)
        got = ctx.get("k")
        assert got == value
        assert [type(k) for k in containers(got)[0]] == [type(k) for k in containers(value)[0]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, {"b": 2**64}]}, r"\$\.a\[1\]\.b: integer 18446744073709551616 does not fit"),
        ({"a": {1: 2}}, r"\$\.a: dict key 1 is not a str"),
        ([0, [1.0, float("inf")]], r"\$\[1\]\[1\]: inf is not a finite number"),
        ({"t": [(1,)]}, r"\$\.t\[0\]: tuple is not JSON-compatible"),
    ],
)
def test_errors_name_the_first_bad_path(value: Any, message: str) -> None:
    with pytest.raises(ContextError, match=message):
        StateValue.Json(value)
    with pytest.raises(ValueError, match=message):
        json_copy(value)
    with pytest.raises(ValueError, match="not JSON-compatible"):
        checked_copy(value)


def test_state_value_accessors_copy(ctx: Context) -> None:
    sv = StateValue.Json({"a": {"b": [1]}})
    ctx.set_value("k", sv)
    got = ctx.get_value("k")
    assert isinstance(got, StateValue.Json)
    got.value["a"]["b"].append(2)
    sv.as_json()["a"]["b"].append(3)
    assert ctx.get("k") == {"a": {"b": [1]}}
    assert sv.value == {"a": {"b": [1]}}


def test_values_as_deep_as_set_accepts_can_be_read_back(ctx: Context) -> None:
    """``get`` uses no more stack per nesting level than ``set``: what was stored is readable."""
    frame, used = sys._getframe(), 0
    while frame is not None:
        used, frame = used + 1, frame.f_back
    depth = sys.getrecursionlimit() - used - 30
    value: Any = 1
    for i in range(depth):
        value = {"d": value} if i % 2 else [value]
    ctx.set("k", value)
    assert isinstance(ctx.get_value("k"), StateValue.Json)
    got = ctx.get("k")
    assert got is not value
    assert clone_json(got) == value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_json_value_round_trips_as_a_private_copy(value: Any) -> None:
    ctx = Context("prop")
    original = json_copy(value)
    ctx.set("k", value)
    assert isinstance(ctx.get_value("k"), StateValue.Json)
    for c in containers(value):
        if type(c) is dict:
            c["x"] = []
        else:
            c.append({})
    got = ctx.get("k")
    assert same(got, original)
    for c in containers(got):
        if type(c) is dict:
            c["y"] = 0
        else:
            c.insert(0, None)
    assert same(ctx.get("k"), original)
