"""Events: typed fields, validation, type names, inline events, StartEvent/StopEvent."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from blazen import Event, InputRequestEvent, InputResponseEvent, StartEvent, StopEvent
from blazen.session_refs import SessionRefRegistry, using_registry


class AnalyzeEvent(Event):
    text: str
    score: float


class Tagged(Event):
    tags: list[str] = []  # noqa: RUF012 (pydantic copies mutable defaults)
    meta: dict[str, Any] = {}  # noqa: RUF012


def test_typed_fields_and_event_type() -> None:
    ev = AnalyzeEvent(text="hello", score=0.5)
    assert ev.event_type == "AnalyzeEvent"
    assert AnalyzeEvent.event_type == "AnalyzeEvent"
    assert ev.text == "hello"
    assert ev.score == 0.5
    assert ev.to_dict() == {"text": "hello", "score": 0.5}


def test_fields_are_validated_on_construction() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        AnalyzeEvent(text="hello", score="not a number")
    assert "score" in str(info.value)
    with pytest.raises(pydantic.ValidationError):
        AnalyzeEvent(text="missing score")
    with pytest.raises(pydantic.ValidationError):
        AnalyzeEvent(text=["not", "a", "str"], score=1.0)


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="score"):
        AnalyzeEvent(text="x", score=object())


def test_numeric_field_is_coerced_like_pydantic() -> None:
    assert AnalyzeEvent(text="x", score=1).score == 1.0
    assert type(AnalyzeEvent(text="x", score=1).score) is float


def test_defaults_are_not_shared_between_events() -> None:
    a, b = Tagged(), Tagged()
    a.tags.append("x")
    assert b.tags == []


def test_subclass_keeps_its_own_name() -> None:
    class Child(AnalyzeEvent):
        extra: int = 0

    ev = Child(text="t", score=1.0, extra=2)
    assert ev.event_type == "Child"
    assert AnalyzeEvent.event_type == "AnalyzeEvent"
    assert ev.to_dict() == {"text": "t", "score": 1.0, "extra": 2}


def test_inline_event() -> None:
    ev = Event("Greeting", text="hi", n=1)
    assert ev.event_type == "Greeting"
    assert ev.text == "hi"
    assert ev.n == 1
    assert ev.to_dict() == {"text": "hi", "n": 1}
    assert isinstance(ev, Event)


def test_inline_events_of_one_name_share_a_class() -> None:
    a, b = Event("Same", x=1), Event("Same", y=2)
    assert type(a) is type(b)
    assert type(a) is not type(Event("Other"))


def test_inline_event_needs_a_name() -> None:
    with pytest.raises(ValueError):
        Event("", x=1)


def test_declared_event_takes_keywords_only() -> None:
    with pytest.raises(TypeError):
        AnalyzeEvent("AnalyzeEvent", text="x", score=1.0)


def test_start_event_kwargs_are_attributes() -> None:
    ev = StartEvent(message="hello", count=3)
    assert ev.event_type == "blazen::StartEvent"
    assert ev.message == "hello"
    assert ev.count == 3
    assert ev.to_dict() == {"message": "hello", "count": 3}


def test_stop_event_result_is_the_same_object() -> None:
    payload = {"answer": [1, 2, 3]}
    ev = StopEvent(result=payload)
    assert ev.event_type == "blazen::StopEvent"
    assert ev.result is payload

    class Opaque:
        pass

    obj = Opaque()
    with using_registry(SessionRefRegistry()):  # as inside a run
        assert StopEvent(result=obj).result is obj
    assert StopEvent().result is None


def test_input_events() -> None:
    req = InputRequestEvent(request_id="r1", prompt="name?", metadata={"a": 1})
    assert req.event_type == "blazen::InputRequestEvent"
    assert (req.request_id, req.prompt, req.metadata) == ("r1", "name?", {"a": 1})
    resp = InputResponseEvent(request_id="r1", response="Ada")
    assert resp.event_type == "blazen::InputResponseEvent"
    assert resp.response == "Ada"


def test_field_values_may_be_any_python_value() -> None:
    class Holder(Event):
        payload: Any

    blob = b"\x00\xff"
    obj = object()
    with using_registry(SessionRefRegistry()):
        assert Holder(payload=blob).payload is blob
        assert Holder(payload=obj).payload is obj


def test_repr_names_the_event_type() -> None:
    assert repr(AnalyzeEvent(text="a", score=1.0)).startswith("AnalyzeEvent(")
    assert "Greeting" in repr(Event("Greeting", x=1))


def test_input_events_take_positional_arguments() -> None:
    req = InputRequestEvent("r1")
    assert (req.request_id, req.prompt, req.metadata) == ("r1", "", None)
    req = InputRequestEvent("r2", "why?", {"m": 1})
    assert (req.request_id, req.prompt, req.metadata) == ("r2", "why?", {"m": 1})
    resp = InputResponseEvent("r1", {"a": 1})
    assert (resp.request_id, resp.response) == ("r1", {"a": 1})
    with pytest.raises(TypeError, match="multiple values for argument 'request_id'"):
        InputRequestEvent("r1", request_id="r2")
    with pytest.raises(TypeError, match="at most 2"):
        InputResponseEvent("r", 1, 2)


def test_only_inline_events_take_a_type_name() -> None:
    with pytest.raises(TypeError, match="keyword fields only"):
        StartEvent("X")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Event("A", "B")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="must be a str"):
        Event(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'event_type'"):
        Event("X", event_type="Y")


def test_an_inline_event_named_like_a_built_in_is_that_event() -> None:
    stop = Event("blazen::StopEvent", result=3)
    assert type(stop) is StopEvent
    assert stop.result == 3
    req = Event("blazen::InputRequestEvent", request_id="q")
    assert isinstance(req, InputRequestEvent)
    assert req.prompt == ""


def test_event_type_can_be_reassigned() -> None:
    ev = AnalyzeEvent(text="a", score=1.0)
    ev.event_type = "Renamed"
    assert ev.event_type == "Renamed"
    assert ev.to_dict() == {"text": "a", "score": 1.0}
    assert ev.text == "a"
    ev.event_type = "blazen::StopEvent"
    assert isinstance(ev, StopEvent)
    assert AnalyzeEvent.event_type == "AnalyzeEvent"
    with pytest.raises(TypeError):
        ev.event_type = 3  # type: ignore[assignment]


def test_str_is_the_repr() -> None:
    ev = Event("Greeting", x=1)
    assert str(ev) == repr(ev) == "Greeting(x=1)"
