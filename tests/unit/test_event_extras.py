"""Run keyword arguments named like pydantic v1 methods still read back as values."""

from __future__ import annotations

import warnings

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


async def test_start_kwargs_named_like_pydantic_methods() -> None:
    @step
    async def echo(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result=(ev.json, ev.schema, ev.copy, ev.dict, ev.validate))

    handler = await Workflow("extras", [echo]).run_with_handler(
        json=1, schema="s", copy=[2], dict={"a": 1}, validate=False
    )
    assert (await handler.result()).result == (1, "s", [2], {"a": 1}, False)


def test_methods_stay_available_without_such_fields() -> None:
    ev = Event("Thing", a=1)
    assert callable(ev.model_copy)
    with warnings.catch_warnings():  # pydantic's v1 spellings are deprecated, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        assert ev.dict() == {"a": 1}  # an extra field of another name: still the method
        assert ev.copy().to_dict() == {"a": 1}
        assert StopEvent.schema()["title"] == "StopEvent"  # and on the class
    assert StopEvent.model_json_schema()["title"] == "StopEvent"
    assert StartEvent(json="x").to_dict() == {"json": "x"}


async def test_a_stop_event_subclass_ends_the_run() -> None:
    class Finished(StopEvent):
        summary: str = ""

    @step
    async def finish(ctx: Context, ev: StartEvent) -> Finished:
        return Finished(result=42, summary="done")

    assert Finished.event_type == "blazen::StopEvent"
    stop = await (await Workflow("custom-stop", [finish]).run_with_handler()).result()
    assert isinstance(stop.event, Finished)
    assert (stop.result, stop.summary) == (42, "done")  # the event's own fields show through
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = stop.nope
