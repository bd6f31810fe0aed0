"""StateValue: the three stored kinds, their static constructors and the tagged dict."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from blazen import StateValue


def test_json_variant() -> None:
    sv = StateValue.json({"a": [1, 2.5, None, True, "s"]})
    assert sv.kind == "json"
    assert (sv.is_json(), sv.is_bytes(), sv.is_native()) == (True, False, False)
    assert sv.as_json() == {"a": [1, 2.5, None, True, "s"]}
    assert sv.to_dict() == {"Json": {"a": [1, 2.5, None, True, "s"]}}
    assert StateValue.json((1, 2)).as_json() == [1, 2]
    assert StateValue.json(None).to_dict() == {"Json": None}


def test_bytes_variant() -> None:
    for data in ([1, 2, 255], b"\x01\x02\xff", bytearray(b"\x01\x02\xff")):
        sv = StateValue.bytes(data)
        assert sv.kind == "bytes"
        assert (sv.is_json(), sv.is_bytes(), sv.is_native()) == (False, True, False)
        assert sv.as_bytes() == b"\x01\x02\xff"
        assert sv.to_dict() == {"Bytes": [1, 2, 255]}
    assert repr(StateValue.bytes(b"ab")) == "StateValue.Bytes(len=2)"


def test_native_variant_keeps_its_bytes_unread() -> None:
    raw = pickle.dumps({"x": 1})
    sv = StateValue.native(raw)
    assert sv.kind == "native"
    assert (sv.is_json(), sv.is_bytes(), sv.is_native()) == (False, False, True)
    assert sv.as_native() == raw
    assert sv.to_dict() == {"Native": list(raw)}
    assert repr(StateValue.native(b"\x80\x04")) == "StateValue.Native(len=2)"


@pytest.mark.parametrize(
    ("sv", "wrong"),
    [
        (StateValue.json(1), "as_bytes"),
        (StateValue.json(1), "as_native"),
        (StateValue.bytes(b"x"), "as_json"),
        (StateValue.native(b"x"), "as_bytes"),
    ],
)
def test_reading_the_wrong_variant_is_a_value_error(sv: Any, wrong: str) -> None:
    with pytest.raises(ValueError):
        getattr(sv, wrong)()


@pytest.mark.parametrize(
    ("data", "kind"),
    [({"Json": {"a": 1}}, "json"), ({"Bytes": [1, 2]}, "bytes"), ({"Native": [128, 4]}, "native")],
)
def test_from_dict_inverts_to_dict(data: dict[str, Any], kind: str) -> None:
    sv = StateValue.from_dict(data)
    assert sv.kind == kind
    assert sv.to_dict() == data


@pytest.mark.parametrize("bad", [{"Nope": 1}, {"Json": 1, "Bytes": [1]}, {}])
def test_from_dict_rejects_malformed_dicts(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        StateValue.from_dict(bad)


def test_from_dict_needs_a_dict() -> None:
    with pytest.raises(TypeError):
        StateValue.from_dict([1])  # type: ignore[arg-type]


def test_bad_constructor_input() -> None:
    with pytest.raises(TypeError):
        StateValue.json(object())
    with pytest.raises(TypeError):
        StateValue.bytes("text")  # type: ignore[arg-type]
    with pytest.raises((OverflowError, ValueError)):
        StateValue.bytes([256])
    with pytest.raises(TypeError):
        StateValue()
