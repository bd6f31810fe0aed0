"""Event data that JSON cannot hold: refused outside a run, registered inside one."""

from __future__ import annotations

import collections
import decimal
import enum
from collections.abc import Iterator
from typing import Any

import pytest

from blazen import Event, InputResponseEvent, SessionRefRegistry, StartEvent, StopEvent
from blazen._admit import live_values
from blazen._call import StepCall, current_step
from blazen.events import inline_event_class
from blazen.session_refs import using_registry


class Color(enum.IntEnum):
    RED = 1


class Plain(enum.Enum):
    A = 1


class Opaque:
    pass


@pytest.fixture
def in_step() -> Iterator[None]:
    token = current_step.set(StepCall("s"))
    try:
        yield
    finally:
        current_step.reset(token)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2**70,
        1.5,
        float("nan"),
        "s",
        (1, "a"),
        [1, [2, {"k": None}]],
        {1: "int key", (1, 2): "tuple key"},
        Color.RED,
        decimal.Decimal("1.5"),
        collections.OrderedDict(a=1),
    ],
)
def test_json_encodable_values_are_fine_anywhere(value: Any) -> None:
    assert Event("E", v=value).v is value
    assert StopEvent(result=value).result is value


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (Opaque(), "Opaque"),
        (b"raw", "bytes"),
        ({1, 2}, "set"),
        (Plain.A, "Plain"),
        ([1, {"deep": Opaque()}], "Opaque"),
        (Event("Inner", x=1), "Inner"),
        (lambda: 1, "function"),
    ],
)
def test_other_values_raise_type_error_outside_a_run(value: Any, name: str) -> None:
    with pytest.raises(TypeError, match=f"cannot serialize `{name}` to JSON outside an active"):
        Event("E", v=value)
    with pytest.raises(TypeError, match="outside an active workflow step"):
        StartEvent(v=value)
    with pytest.raises(TypeError, match="outside an active workflow step"):
        InputResponseEvent("r", value)


def test_inside_a_step_any_value_is_kept_as_is(in_step: None) -> None:
    obj = Opaque()
    assert StopEvent(result=obj).result is obj


def test_with_a_registry_live_values_are_recorded_once() -> None:
    reg = SessionRefRegistry()
    obj, blob = Opaque(), b"x"
    with using_registry(reg):
        Event("A", o=obj, b=blob)
        Event("B", again=[obj])
        Event("C", n=1)
    assert [reg.get(k) for k in reg] == [obj, blob]


def test_trusted_construction_skips_the_check() -> None:
    obj = Opaque()
    assert inline_event_class("T").model_validate({"o": obj}).o is obj
    assert StopEvent.model_validate({"result": obj}).result is obj


def test_live_values_walks_containers_and_survives_cycles() -> None:
    a, b = Opaque(), Opaque()
    assert live_values([1, [a, {"k": (b, "s")}], "x"]) == [a, b]
    loop: list[Any] = []
    loop.append(loop)
    assert live_values([loop]) == [loop]


class Counted(Event):
    n: int
    label: str | None = None


class Loose(Event):
    payload: Any = None


def test_events_whose_fields_are_all_json_scalars_skip_the_check_but_not_for_extras() -> None:
    """A class whose declared fields are all str/int/float/bool (or None) needs no check of
    what it validated; extra fields, and any other field type, are still checked."""
    assert (Counted._scalar_fields, Loose._scalar_fields) == (True, False)
    assert Counted(n=Color.RED, label="x").n == 1  # validated to a plain int
    with pytest.raises(TypeError, match="cannot serialize `Opaque` to JSON outside"):
        Counted(n=1, extra=Opaque())
    with pytest.raises(TypeError, match="cannot serialize `Opaque` to JSON outside"):
        Loose(payload=Opaque())
