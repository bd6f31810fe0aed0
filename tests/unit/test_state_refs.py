"""``store_by`` fields: the digest checked on load, and references returned by ``save``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from blazen import BlazenState, CallbackFieldStore, Context, ContextError, FieldStore
from blazen._state_digest import value_digest

SHARED: dict[str, Any] = {}  # the docs' former pattern: one dict, keyed by the field's key


def save_shared(key: str, value: Any) -> None:
    SHARED[key] = value


class Blobs:
    """A FieldStore that writes every value under a new name and returns that name."""

    def __init__(self) -> None:
        self.blobs: dict[str, Any] = {}
        self.loaded: list[Any] = []

    def save(self, key: str, value: Any, ctx: Any) -> str:
        ref = f"{ctx.run_id()}/{key}/{len(self.blobs)}"
        self.blobs[ref] = value
        return ref

    def load(self, ref: Any, ctx: Any) -> Any:
        self.loaded.append(ref)
        return self.blobs[ref]


BLOBS = Blobs()


@dataclass
class Shared(BlazenState):
    vectors: Any = None

    class Meta:
        store_by: ClassVar[dict[str, FieldStore]] = {
            "vectors": CallbackFieldStore(save_shared, SHARED.__getitem__)
        }


@dataclass
class ByRef(BlazenState):
    name: str = ""
    vectors: Any = None

    class Meta:
        store_by: ClassVar[dict[str, FieldStore]] = {"vectors": BLOBS}


@pytest.fixture(autouse=True)
def _clear() -> None:
    SHARED.clear()
    BLOBS.blobs.clear()
    BLOBS.loaded.clear()


def new_ctx() -> Context:
    return Context(str(uuid.uuid4()))


def test_a_value_another_run_overwrote_is_refused_on_load() -> None:
    a, b = new_ctx(), new_ctx()
    a.set("pipeline", Shared(vectors=[1.0]))
    b.set("pipeline", Shared(vectors=[2.0]))  # same key "pipeline.vectors": overwrites a's
    assert b.get("pipeline") == Shared(vectors=[2.0])
    with pytest.raises(ContextError, match=r"field store of pipeline\.vectors loaded \(by the key"):
        a.get("pipeline")


def test_a_reference_returned_by_save_is_stored_and_handed_to_load() -> None:
    a, b = new_ctx(), new_ctx()
    a.set("pipeline", ByRef("a", [1.0]))
    b.set("pipeline", ByRef("b", [2.0]))
    assert a.get("pipeline") == ByRef("a", [1.0])
    assert b.get("pipeline") == ByRef("b", [2.0])
    ref_a = f"{a.run_id()}/pipeline.vectors/0"
    assert BLOBS.loaded == [ref_a, f"{b.run_id()}/pipeline.vectors/1"]
    record = a.get("pipeline.__blazen_meta__")
    assert record["refs"] == {"vectors": ref_a}
    assert record["digests"]["vectors"] == value_digest([1.0])


def test_an_unchanged_field_keeps_its_reference_and_a_changed_one_gets_a_new_one() -> None:
    ctx = new_ctx()
    ctx.set("p", ByRef("x", [1.0]))
    ctx.set("p", ByRef("y", [1.0]))  # vectors unchanged: not saved again
    assert len(BLOBS.blobs) == 1
    assert ctx.get("p") == ByRef("y", [1.0])
    ctx.set("p", ByRef("y", [3.0]))
    assert ctx.get("p.__blazen_meta__")["refs"] == {"vectors": f"{ctx.run_id()}/p.vectors/1"}
    assert ctx.get("p") == ByRef("y", [3.0])


def test_a_copy_of_the_context_finds_the_data_its_record_names() -> None:
    """What a fork gets: the record (and its reference) as it was at the fork point."""
    parent = new_ctx()
    parent.set("p", ByRef("x", [1.0]))
    fork = Context(str(uuid.uuid4()))
    fork.set("p.__blazen_meta__", parent.get("p.__blazen_meta__"))
    fork.set("p.name", "x")
    assert fork.get("p") == ByRef("x", [1.0])  # the parent's data, by its reference
    fork.set("p", ByRef("x", [9.0]))  # the fork's own save: a new reference
    assert parent.get("p") == ByRef("x", [1.0])
    assert fork.get("p") == ByRef("x", [9.0])


def test_a_reference_must_be_json() -> None:
    class Bad:
        def save(self, key: str, value: Any, ctx: Any) -> Any:
            return {"path": object()}

        def load(self, key: Any, ctx: Any) -> Any:
            raise AssertionError("never loaded")

    @dataclass
    class Holder(BlazenState):
        data: Any = None

        class Meta:
            store_by: ClassVar[dict[str, FieldStore]] = {"data": Bad()}

    ctx = new_ctx()
    with pytest.raises(ContextError, match=r"field store of h\.data returned a reference that is"):
        ctx.set("h", Holder(data=1))
    assert ctx.keys() == []


def test_callback_field_store_ignores_what_save_fn_returns_unless_asked() -> None:
    written: dict[str, Any] = {}
    keys: list[Any] = []

    def save(key: str, value: Any) -> int:
        written[key] = value
        return 42  # e.g. the byte count of a file write: not a reference

    def load(key: Any) -> Any:
        keys.append(key)
        return written[str(key).removeprefix("ref:")]

    @dataclass
    class Compat(BlazenState):
        w: Any = None

        class Meta:
            store_by: ClassVar[dict[str, FieldStore]] = {"w": CallbackFieldStore(save, load)}

    ctx = new_ctx()
    ctx.set("c", Compat(w=[1]))
    assert ctx.get("c") == Compat(w=[1])
    assert keys == ["c.w"]
    assert "refs" not in ctx.get("c.__blazen_meta__")

    def save_ref(key: str, value: Any) -> str:
        written[key] = value
        return f"ref:{key}"

    store = CallbackFieldStore(save_ref, load, returns_ref=True)
    assert repr(store) == "CallbackFieldStore(save_fn=..., load_fn=..., returns_ref=True)"

    @dataclass
    class WithRef(BlazenState):
        w: Any = None

        class Meta:
            store_by: ClassVar[dict[str, FieldStore]] = {"w": store}

    ctx.set("r", WithRef(w=[2]))
    assert ctx.get("r") == WithRef(w=[2])
    assert keys[-1] == "ref:r.w"


def test_a_record_without_a_checked_digest_is_not_checked() -> None:
    """Records written before digests were checked hold a plain pickle's digest."""
    ctx = new_ctx()
    ctx.set("pipeline", Shared(vectors=[1.0]))
    record = ctx.get("pipeline.__blazen_meta__")
    record["digests"] = {"vectors": "ab" * 32}
    ctx.set("pipeline.__blazen_meta__", record)
    SHARED["pipeline.vectors"] = [5.0]
    assert ctx.get("pipeline") == Shared(vectors=[5.0])


@dataclass
class Tagged:
    tags: set[str] = field(default_factory=set)


VALUES: dict[str, Any] = {
    "set": {"b", "a", "c", "d", "e", "f"},
    "nested": {"k": frozenset({"x", "y", "z"}), "l": [{"p", "q"}]},
    "dataclass": Tagged({"u", "v", "w", "x"}),
}
_PRINT_DIGEST = (
    "import importlib, sys; sys.path.insert(0, sys.argv[1]);"
    "from blazen._state_digest import value_digest;"
    "print(value_digest(importlib.import_module(sys.argv[2]).VALUES[sys.argv[3]]))"
)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_equal_values_have_one_digest_in_every_process(name: str) -> None:
    """Set order follows string hashes, which change between processes."""
    tests = os.path.dirname(os.path.dirname(__file__))  # this module's import root
    digests = {
        subprocess.run(
            [sys.executable, "-c", _PRINT_DIGEST, tests, __name__, name],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    assert digests == {value_digest(VALUES[name])}


def test_a_serialised_copy_has_the_digest_of_the_original() -> None:
    shared = "a string used twice"
    value = {"xs": [shared, shared], "n": 1.5, "nested": {"ys": [shared]}}
    assert value_digest(json.loads(json.dumps(value))) == value_digest(value)
    assert value_digest({"xs": [1]}) != value_digest({"xs": [2]})
    assert value_digest([1, 2]) != value_digest((1, 2))


def test_a_value_that_cannot_be_pickled_has_no_digest() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert value_digest(cyclic) is None
    assert value_digest(lambda: 1) is None
