"""BlazenState objects stored field by field, and CallbackFieldStore."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from blazen import BlazenState, CallbackFieldStore, Context, StartEvent, StopEvent, Workflow, step

from ._util import payload

CALLS: list[tuple[Any, ...]] = []
EXTERNAL: dict[str, Any] = {}


def save_fn(*args: Any) -> None:
    CALLS.append(("save", *args))
    EXTERNAL[args[0]] = args[1]


def load_fn(*args: Any) -> Any:
    CALLS.append(("load", *args))
    return EXTERNAL.get(args[0])


WEIGHTS = CallbackFieldStore(save_fn, load_fn)


@dataclasses.dataclass
class Pipeline(BlazenState):
    query: str = ""
    hits: int = 0
    weights: Any = None

    class Meta:
        store_by: ClassVar[dict[str, Any]] = {"weights": WEIGHTS}

    def restore(self) -> None:
        self.restored = True


def test_callback_field_store_calls_its_functions_without_the_context() -> None:
    CALLS.clear()
    store = CallbackFieldStore(save_fn, load_fn)
    assert store.save("k", [1], object()) is None
    assert store.load("k", object()) == [1]
    assert CALLS == [("save", "k", [1]), ("load", "k")]
    assert repr(store) == "CallbackFieldStore(save_fn=..., load_fn=...)"


def test_blazen_state_base_takes_keyword_arguments() -> None:
    assert isinstance(BlazenState(), BlazenState)
    assert isinstance(BlazenState(anything=1), BlazenState)


async def test_a_state_object_round_trips_field_by_field() -> None:
    CALLS.clear()

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        ctx.set("p", Pipeline(query="q", hits=3, weights=[0.5, 1.5]))
        back = ctx.get("p")
        return StopEvent(
            result={
                "type": type(back).__name__,
                "fields": [back.query, back.hits, back.weights],
                "restored": getattr(back, "restored", False),
                "field_entry": ctx.get("p.hits"),
                "meta_is_dict": isinstance(ctx.get("p.__blazen_meta__"), dict),
                "in_state": "p" in ctx.state,
            }
        )

    assert await payload(Workflow("state-obj", [s])) == {
        "type": "Pipeline",
        "fields": ["q", 3, [0.5, 1.5]],
        "restored": True,
        "field_entry": 3,
        "meta_is_dict": True,
        "in_state": True,
    }
    assert ("save", "p.weights", [0.5, 1.5]) in CALLS
    assert ("load", "p.weights") in CALLS


WRITTEN: dict[str, Any] = {}
LOADED: list[Any] = []


def save_counting(key: str, value: Any) -> int:
    """Like a file write, returns a byte count: not a reference to hand back to load_fn."""
    WRITTEN[key] = value
    return len(repr(value))


def load_written(key: Any) -> Any:
    LOADED.append(key)
    return WRITTEN[key]


@dataclasses.dataclass
class Counted(BlazenState):
    weights: Any = None

    class Meta:
        store_by: ClassVar[dict[str, Any]] = {
            "weights": CallbackFieldStore(save_counting, load_written)
        }


async def test_what_save_fn_returns_does_not_change_what_load_fn_gets() -> None:
    LOADED.clear()

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        ctx.set("c", Counted(weights=[1, 2]))
        return StopEvent(result=ctx.get("c").weights)

    assert await payload(Workflow("state-counted", [s])) == [1, 2]
    assert LOADED == ["c.weights"]
