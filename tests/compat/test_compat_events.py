"""Event, StartEvent, StopEvent, InputRequestEvent, InputResponseEvent."""

from __future__ import annotations

from typing import Any

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)

from ._util import payload


class Opaque:
    def __init__(self, n: int = 0) -> None:
        self.n = n


def test_inline_event_has_its_name_and_fields() -> None:
    ev = Event("Analyze", text="hi", score=0.5, tags=["a"], meta={"k": None})
    assert ev.event_type == "Analyze"
    assert (ev.text, ev.score, ev.tags, ev.meta) == ("hi", 0.5, ["a"], {"k": None})
    assert ev.to_dict() == {"text": "hi", "score": 0.5, "tags": ["a"], "meta": {"k": None}}
    assert isinstance(repr(ev), str)
    assert "Analyze" in str(ev)


def test_missing_field_is_an_attribute_error() -> None:
    ev = Event("Thing", a=1)
    with pytest.raises(AttributeError, match="nope"):
        _ = ev.nope
    assert not hasattr(ev, "nope")


def test_event_type_can_be_reassigned() -> None:
    ev = Event("First", a=1)
    ev.event_type = "Second"
    assert ev.event_type == "Second"
    assert ev.to_dict() == {"a": 1}
    assert ev.a == 1


def test_subclass_is_named_by_its_class() -> None:
    class Ping(Event):
        pass

    ev = Ping(n=1)
    assert ev.event_type == "Ping"
    assert ev.to_dict() == {"n": 1}
    assert isinstance(ev, Event)


@pytest.mark.parametrize(
    "call",
    [
        lambda: Event(5),
        lambda: Event("A", event_type="B"),
        lambda: StartEvent("X"),
        lambda: StopEvent("X", result=1),
    ],
)
def test_bad_constructor_arguments_are_type_errors(call: Any) -> None:
    with pytest.raises(TypeError):
        call()


def test_start_and_stop_events() -> None:
    start = StartEvent(message="hi", n=2)
    assert start.event_type == "blazen::StartEvent"
    assert (start.message, start.to_dict()) == ("hi", {"message": "hi", "n": 2})
    stop = StopEvent(result={"answer": 42})
    assert stop.event_type == "blazen::StopEvent"
    assert stop.result == {"answer": 42}
    assert stop.to_dict() == {"result": {"answer": 42}}
    assert isinstance(start, Event)
    assert isinstance(stop, Event)
    assert issubclass(StopEvent, Event)


@pytest.mark.parametrize("value", [(1, 2), [1, [2.5, None]], {"k": {"n": True}}, "s", 3, None])
def test_json_values_are_fine_outside_a_step(value: Any) -> None:
    assert Event("E", v=value).to_dict()["v"] in (
        value,
        list(value) if type(value) is tuple else value,
    )


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(Opaque(), "Opaque"), (b"raw", "bytes"), ({1, 2}, "set"), ([1, Opaque()], "Opaque")],
)
def test_non_json_values_raise_type_error_outside_a_step(value: Any, type_name: str) -> None:
    with pytest.raises(TypeError, match=f"`{type_name}` to JSON outside an active workflow step"):
        Event("E", v=value)
    with pytest.raises(TypeError, match="outside an active workflow step"):
        StopEvent(result=value)


async def test_non_json_values_keep_their_identity_inside_a_step() -> None:
    obj = Opaque(7)

    @step
    async def carry(ctx: Context, ev: StartEvent) -> Any:
        return Event("Carried", payload=obj, raw=b"\x00")

    @step(accepts=["Carried"])
    async def finish(ctx: Context, ev: Event) -> Any:
        return StopEvent(result={"same": ev.payload is obj, "raw": ev.raw, "n": ev.payload.n})

    assert await payload(Workflow("carry", [carry, finish])) == {
        "same": True,
        "raw": b"\x00",
        "n": 7,
    }


def test_run_kwargs_that_are_not_json_raise_type_error() -> None:
    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        return StopEvent(result=None)

    wf = Workflow("kw", [s])

    async def go() -> None:
        handler = await wf.run_with_handler(obj=Opaque())
        await handler.result()

    import asyncio

    with pytest.raises(TypeError, match="outside an active workflow step"):
        asyncio.run(go())


def test_input_request_event() -> None:
    req = InputRequestEvent("r1")
    assert (req.request_id, req.prompt, req.metadata) == ("r1", "", None)
    req = InputRequestEvent("r2", "name?", {"m": [1]})
    assert (req.request_id, req.prompt, req.metadata) == ("r2", "name?", {"m": [1]})
    req = InputRequestEvent(request_id="r3", prompt="p", metadata={"a": 1})
    assert (req.request_id, req.prompt, req.metadata) == ("r3", "p", {"a": 1})
    req.request_id = "r4"
    req.prompt = "q"
    assert (req.request_id, req.prompt) == ("r4", "q")
    assert "r4" in repr(req)
    with pytest.raises(TypeError):
        InputRequestEvent()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="outside an active workflow step"):
        InputRequestEvent("r", "p", {"o": Opaque()})


def test_input_response_event() -> None:
    resp = InputResponseEvent("r1", {"name": "Ada"})
    assert (resp.request_id, resp.response) == ("r1", {"name": "Ada"})
    assert InputResponseEvent(request_id="r2", response=None).response is None
    resp.request_id = "r9"
    assert resp.request_id == "r9"
    assert "r9" in repr(resp)
    with pytest.raises(TypeError, match="outside an active workflow step"):
        InputResponseEvent("r", Opaque())
