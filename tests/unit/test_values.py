"""``StateValue``: a closed sum of three frozen variants."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from blazen import ContextError, StateValue
from blazen.values import StateValueError


def describe(sv: StateValue) -> str:
    match sv:
        case StateValue.Json(value=v):
            return f"json:{v!r}"
        case StateValue.Bytes(data=b):
            return f"bytes:{len(b)}"
        case StateValue.Native(data=p):
            return f"native:{pickle.loads(p)!r}"
    raise AssertionError("unreachable")


def test_match_by_keyword() -> None:
    assert describe(StateValue.Json({"a": 1})) == "json:{'a': 1}"
    assert describe(StateValue.Bytes(b"abc")) == "bytes:3"
    assert describe(StateValue.Native(pickle.dumps((1, 2)))) == "native:(1, 2)"


def test_match_by_position() -> None:
    match StateValue.Bytes(b"xy"):
        case StateValue.Json(v):
            raise AssertionError(v)
        case StateValue.Bytes(b):
            assert b == b"xy"


@pytest.mark.parametrize(
    ("sv", "kind"),
    [
        (StateValue.Json([1, "two"]), "json"),
        (StateValue.Bytes(b"\x00"), "bytes"),
        (StateValue.Native(b"\x80\x05N."), "native"),
    ],
)
def test_kind_and_predicates(sv: StateValue, kind: str) -> None:
    assert sv.kind == kind
    assert sv.is_json() is (kind == "json")
    assert sv.is_bytes() is (kind == "bytes")
    assert sv.is_native() is (kind == "native")
    assert isinstance(sv, StateValue)


def test_accessors() -> None:
    j, b, n = StateValue.Json({"k": [1]}), StateValue.Bytes(b"raw"), StateValue.Native(b"pkl")
    assert j.as_json() == {"k": [1]}
    assert b.as_bytes() == b"raw"
    assert n.as_native() == b"pkl"
    for sv, wrong in ((j, "as_bytes"), (j, "as_native"), (b, "as_json"), (n, "as_bytes")):
        with pytest.raises(TypeError):
            getattr(sv, wrong)()


def test_as_json_returns_a_copy() -> None:
    sv = StateValue.Json({"k": [1]})
    got = sv.as_json()
    got["k"].append(2)
    assert sv.as_json() == {"k": [1]}


def test_json_copies_its_input() -> None:
    data = {"k": [1]}
    sv = StateValue.Json(data)
    data["k"].append(2)
    assert sv.value == {"k": [1]}


def test_bytes_accepts_bytearray_and_memoryview() -> None:
    assert StateValue.Bytes(bytearray(b"ab")).data == b"ab"
    assert StateValue.Bytes(memoryview(b"cd")).data == b"cd"
    assert type(StateValue.Bytes(bytearray(b"ab")).data) is bytes
    raw = b"same"
    assert StateValue.Bytes(raw).data is raw


def test_to_dict_from_dict_round_trip() -> None:
    for sv, tag in (
        (StateValue.Json({"a": [1, 2.5, None, True]}), "Json"),
        (StateValue.Bytes(b"\x00\x01"), "Bytes"),
        (StateValue.Native(pickle.dumps({1, 2})), "Native"),
    ):
        d = sv.to_dict()
        assert list(d) == [tag]
        back = StateValue.from_dict(d)
        assert back == sv
        assert type(back) is type(sv)


def test_from_dict_accepts_integer_lists_for_binary() -> None:
    assert StateValue.from_dict({"Bytes": [1, 2, 255]}) == StateValue.Bytes(b"\x01\x02\xff")
    assert StateValue.from_dict({"Native": [128]}) == StateValue.Native(b"\x80")


@pytest.mark.parametrize(
    "bad",
    [{}, {"Json": 1, "Bytes": b""}, {"Other": 1}, {"Bytes": "text"}, {"Bytes": [256]}, [1]],
)
def test_from_dict_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ContextError):
        StateValue.from_dict(bad)


def test_variants_are_frozen() -> None:
    sv = StateValue.Json({"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        sv.value = 2  # type: ignore[misc]
    b = StateValue.Bytes(b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.data = b"y"  # type: ignore[misc]


def test_the_sum_is_closed() -> None:
    with pytest.raises(TypeError, match="closed"):

        class Mine(StateValue):
            pass

    with pytest.raises(TypeError, match="closed"):

        class MyJson(StateValue.Json):  # type: ignore[misc]
            pass


def test_json_rejects_non_json_values() -> None:
    for bad in (object(), (1, 2), {1: "int key"}, {"s": {1, 2}}, float("nan"), 2**64):
        with pytest.raises(ContextError):
            StateValue.Json(bad)


def test_binary_variants_reject_other_types() -> None:
    with pytest.raises(ContextError):
        StateValue.Bytes("text")  # type: ignore[arg-type]
    with pytest.raises(ContextError):
        StateValue.Native({"not": "bytes"})  # type: ignore[arg-type]


def test_equality_and_repr() -> None:
    assert StateValue.Bytes(b"a") == StateValue.Bytes(b"a")
    assert StateValue.Bytes(b"a") != StateValue.Native(b"a")
    assert repr(StateValue.Json({"a": 1})) == "StateValue.Json({'a': 1})"
    assert repr(StateValue.Bytes(b"ab")) == "StateValue.Bytes(len=2)"
    assert repr(StateValue.Native(b"\x80\x04\x95")) == "StateValue.Native(len=3)"


def test_json_rejects_self_referencing_values() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ContextError, match="self-referencing"):
        StateValue.Json(loop)


def test_lowercase_constructors_as_in_the_rust_core_package() -> None:
    sv = StateValue.json({"t": (1, 2), 3: float("inf"), "big": 2**70, "n": None})
    assert isinstance(sv, StateValue.Json)
    assert sv.as_json() == {"t": [1, 2], "3": None, "big": float(2**70), "n": None}
    assert StateValue.bytes([1, 2, 255]) == StateValue.Bytes(b"\x01\x02\xff")
    assert StateValue.bytes(bytearray(b"a")).as_bytes() == b"a"
    assert StateValue.native(b"\x80\x04").as_native() == b"\x80\x04"
    assert StateValue.native([128]).kind == "native"
    with pytest.raises(TypeError, match="cannot serialize `object`"):
        StateValue.json(object())
    with pytest.raises(TypeError, match="cannot serialize `bytes`"):
        StateValue.json(b"raw")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        StateValue.bytes([256])
    with pytest.raises(TypeError, match="not str"):
        StateValue.bytes("ab")  # type: ignore[arg-type]
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ContextError, match="too deeply"):
        StateValue.json(loop)


def test_wrong_variant_and_bad_tags_are_value_errors() -> None:
    for call in (
        lambda: StateValue.Json(1).as_bytes(),
        lambda: StateValue.Bytes(b"").as_native(),
        lambda: StateValue.Native(b"").as_json(),
        lambda: StateValue.from_dict({"Nope": 1}),
        lambda: StateValue.from_dict({"Json": 1, "Bytes": [1]}),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, StateValueError)
        assert isinstance(info.value, ContextError)
    with pytest.raises(TypeError, match="needs a dict"):
        StateValue.from_dict([1])


def test_to_dict_writes_binary_payloads_as_int_lists() -> None:
    assert StateValue.Bytes(b"\x01\x02").to_dict() == {"Bytes": [1, 2]}
    assert StateValue.Native(b"\x80").to_dict() == {"Native": [128]}
    got = StateValue.Json({"a": [1]}).to_dict()
    got["Json"]["a"].append(2)
    assert StateValue.Json({"a": [1]}).to_dict() == {"Json": {"a": [1]}}
