"""BlazenState re-sets: unchanged store_by fields are not saved again; failures change nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from blazen import BlazenState, CallbackFieldStore, Context, ContextError

SAVED: list[tuple[str, Any]] = []
EXTERNAL: dict[str, Any] = {}


def _save(key: str, value: Any) -> None:
    if value == "bad":
        raise OSError("disk full")
    SAVED.append((key, value))
    EXTERNAL[key] = value


WEIGHTS = CallbackFieldStore(_save, EXTERNAL.get)


@dataclass
class Model(BlazenState):
    a: int = 0
    weights: Any = None
    tags: list[str] = field(default_factory=list)

    class Meta:
        store_by: ClassVar[dict[str, Any]] = {"weights": WEIGHTS}


@dataclass
class Other(BlazenState):
    q: int = 0


@pytest.fixture(autouse=True)
def _reset() -> None:
    SAVED.clear()
    EXTERNAL.clear()


def test_an_unchanged_store_by_field_is_not_saved_again() -> None:
    ctx = Context(str(uuid.uuid4()))
    ctx.set("m", Model(a=1, weights=[1.0, 2.0]))
    ctx.set("m", Model(a=2, weights=[1.0, 2.0]))  # weights equal: no second save
    assert SAVED == [("m.weights", [1.0, 2.0])]
    ctx.set("m", Model(a=2, weights=[3.0]))
    assert SAVED[-1] == ("m.weights", [3.0])
    assert ctx.get("m") == Model(a=2, weights=[3.0])


def test_a_failing_field_store_changes_nothing() -> None:
    ctx = Context(str(uuid.uuid4()))
    ctx.set("m", Model(a=1, weights="good", tags=["x"]))
    with pytest.raises(ContextError, match=r"m\.weights") as info:
        ctx.set("m", Model(a=2, weights="bad", tags=["y"]))
    assert isinstance(info.value.__cause__, OSError)
    assert ctx.get("m") == Model(a=1, weights="good", tags=["x"])


def test_another_class_under_the_same_key_leaves_no_old_fields() -> None:
    ctx = Context(str(uuid.uuid4()))
    ctx.set("s", Model(a=1, weights=[0], tags=["t"]))
    ctx.set("s", Other(q=5))
    assert ctx.get("s") == Other(q=5)
    assert sorted(ctx._data) == ["s.__blazen_meta__", "s.q"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("not an event", ["A"]),
        (None, ["A"]),
        ("EV", "AB"),
        ("EV", [int]),
        ("EV", None),
        ("EV", []),
    ],
)
def test_collect_events_rejects_bad_arguments(event: Any, expected: Any) -> None:
    from blazen import Event

    ctx = Context(str(uuid.uuid4()))
    ev = Event("A", i=1) if event == "EV" else event
    with pytest.raises(ContextError):
        ctx.collect_events(ev, expected)
    assert ctx._collected == {}


@pytest.mark.parametrize("timeout", ["3", True, 0, -1, float("inf"), float("nan")])
def test_workflow_timeout_must_be_a_positive_number(timeout: Any) -> None:
    from blazen import StartEvent, StopEvent, Workflow, WorkflowValidationError, step

    @step
    async def only(ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent()

    with pytest.raises(WorkflowValidationError, match="timeout"):
        Workflow("bad-timeout", [only], timeout=timeout)
