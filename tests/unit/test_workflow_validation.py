"""``Workflow(...)`` validates its graph when it is built."""

from __future__ import annotations

import pytest

from blazen import (
    Context,
    Event,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowError,
    WorkflowValidationError,
    step,
)


class Middle(Event):
    value: int


class Orphan(Event):
    pass


@step
async def start(ctx: Context, ev: StartEvent) -> Middle:
    return Middle(value=1)


@step
async def finish(ctx: Context, ev: Middle) -> StopEvent:
    return StopEvent(result=ev.value)


def test_valid_workflow() -> None:
    wf = Workflow("valid", [start, finish])
    assert wf.name == "valid"
    assert wf.timeout is None
    assert wf.session_pause_policy == "pickle_or_error"


def test_validation_error_is_a_workflow_error() -> None:
    assert issubclass(WorkflowValidationError, WorkflowError)


def test_no_start_event_acceptor() -> None:
    with pytest.raises(WorkflowValidationError, match="StartEvent"):
        Workflow("no-start", [finish])


def test_event_and_missing_annotation_mean_start_event() -> None:
    @step
    async def by_event(ctx: Context, ev: Event) -> StopEvent:
        return StopEvent()

    @step
    async def unannotated(ctx, ev):  # type: ignore[no-untyped-def]
        return StopEvent()

    Workflow("by-event", [by_event])
    Workflow("unannotated", [unannotated])


def test_two_classes_with_one_event_type_name() -> None:
    def make() -> type[Event]:
        class Twin(Event):
            x: int = 0

        return Twin

    first, second = make(), make()
    assert first is not second
    assert first.event_type == second.event_type == "Twin"

    @step
    async def a(ctx: Context, ev: StartEvent) -> first:  # type: ignore[valid-type]
        return first()

    @step
    async def b(ctx: Context, ev: second) -> StopEvent:  # type: ignore[valid-type]
        return StopEvent()

    with pytest.raises(WorkflowValidationError, match="'Twin' is defined twice"):
        Workflow("twins", [a, b])


def test_emits_type_that_nobody_accepts() -> None:
    @step(emits=[Orphan])
    async def s(ctx: Context, ev: StartEvent) -> None:
        return None

    with pytest.raises(WorkflowValidationError, match="'s' emits 'Orphan'"):
        Workflow("emits-orphan", [s])


def test_emits_name_that_nobody_accepts() -> None:
    @step(emits=["Nowhere", "blazen::StopEvent"])
    async def s(ctx: Context, ev: StartEvent) -> None:
        return None

    with pytest.raises(WorkflowValidationError, match="Nowhere"):
        Workflow("emits-name", [s])


def test_return_annotation_naming_an_unaccepted_event() -> None:
    @step
    async def s(ctx: Context, ev: StartEvent) -> Orphan | StopEvent:
        return StopEvent()

    with pytest.raises(WorkflowValidationError, match="Orphan"):
        Workflow("returns-orphan", [s])


def test_return_annotation_list_of_events_is_checked() -> None:
    @step
    async def s(ctx: Context, ev: StartEvent) -> list[Orphan]:
        return []

    with pytest.raises(WorkflowValidationError, match="Orphan"):
        Workflow("returns-list", [s])


def test_imprecise_return_annotations_are_not_checked() -> None:
    @step
    async def any_event(ctx: Context, ev: StartEvent) -> Event:
        return StopEvent()

    @step
    async def optional(ctx: Context, ev: StartEvent) -> StopEvent | None:
        return None

    Workflow("imprecise", [any_event])
    Workflow("optional", [optional])


def test_emits_that_are_accepted_are_fine() -> None:
    @step(emits=[Middle, "blazen::StopEvent"])
    async def s(ctx: Context, ev: StartEvent) -> None:
        return None

    Workflow("emits-ok", [s, finish])


def test_non_step_in_list() -> None:
    async def plain(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent()

    with pytest.raises(WorkflowValidationError, match="not a step"):
        Workflow("non-step", [start, finish, plain])


def test_steps_must_be_a_list_of_steps() -> None:
    with pytest.raises(WorkflowValidationError):
        Workflow("empty", [])
    with pytest.raises(WorkflowValidationError):
        Workflow("string", "start")  # type: ignore[arg-type]


def test_duplicate_step_names() -> None:
    @step(name="start")
    async def other(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent()

    with pytest.raises(WorkflowValidationError, match="two steps are named 'start'"):
        Workflow("dupes", [start, other, finish])


def test_bad_workflow_options() -> None:
    with pytest.raises(WorkflowValidationError):
        Workflow("", [start, finish])
    with pytest.raises(WorkflowValidationError):
        Workflow("t", [start, finish], timeout=0)
    with pytest.raises(WorkflowValidationError):
        Workflow("p", [start, finish], session_pause_policy="ignore")  # type: ignore[arg-type]


def test_a_non_step_is_a_type_error_and_a_validation_error() -> None:
    with pytest.raises(TypeError, match="is not a step") as info:
        Workflow("not-a-step", [lambda ctx, ev: None])
    assert isinstance(info.value, WorkflowValidationError)
