"""Regression tests for review findings: step options, inline-event pickling, StateValue
errors, the human-in-the-loop graph check, ``open_store`` messages and a docs section."""

from __future__ import annotations

import asyncio
import math
import pickle
import re
import types
import uuid
from pathlib import Path
from typing import Any

import pytest

import blazen.context
import blazen.stores.base as store_base
from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowValidationError,
    step,
)
from blazen.errors import ContextError, StoreError
from blazen.events import inline_event_class
from blazen.session_refs import SessionRefRegistry, using_registry
from blazen.snapshot import WorkflowSnapshot, decode_event, encode_event
from blazen.step import get_step_spec
from blazen.stores.base import open_store
from blazen.values import StateValue

DOCS = Path(__file__).resolve().parents[2] / "docs"


class Analyze(Event):
    text: str = ""


async def _start(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result=None)


# --- 1. accepts= / emits= given a str -------------------------------------------------------


@pytest.mark.parametrize("option", ["accepts", "emits"])
def test_a_bare_str_is_not_split_into_letters(option: str) -> None:
    with pytest.raises(WorkflowValidationError, match=rf"'_start'.*{option}=.*pass a list"):
        step(**{option: "Analyze"})(_start)  # type: ignore[call-overload]


@pytest.mark.parametrize("option", ["accepts", "emits"])
@pytest.mark.parametrize(
    "value",
    [{"Analyze"}, frozenset({"Analyze"}), (x for x in ["Analyze"]), {"Analyze": 1}, b"Analyze"],
    ids=["set", "frozenset", "generator", "dict", "bytes"],
)
def test_other_iterables_are_rejected(option: str, value: Any) -> None:
    with pytest.raises(WorkflowValidationError, match=rf"'_start'.*{option}= must be a list"):
        step(**{option: value})(_start)


@pytest.mark.parametrize("option", ["accepts", "emits"])
def test_a_single_event_class_is_rejected(option: str) -> None:
    with pytest.raises(WorkflowValidationError, match=rf"'_start'.*{option}="):
        step(**{option: Analyze})(_start)  # type: ignore[call-overload]


def test_lists_and_tuples_still_work() -> None:
    async def s(ctx: Context, ev: Any) -> None:
        return None

    spec = get_step_spec(step(accepts=("Analyze", "Other"), emits=["X", Analyze])(s))
    assert spec is not None
    assert spec.accepts == ("Analyze", "Other")
    assert spec.emits == ("X", "Analyze")


# --- 2. strict option types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", "5"),
        ("timeout", True),
        ("timeout", math.inf),
        ("timeout", math.nan),
        ("timeout", 10**400),
        ("timeout", [5]),
        ("retry_delay", "5"),
        ("retry_delay", True),
        ("retry_delay", math.inf),
        ("retry_delay", math.nan),
        ("retry_delay", None),
        ("max_concurrency", True),
        ("max_concurrency", False),
        ("max_concurrency", "2"),
        ("max_concurrency", 2.0),
        ("max_concurrency", None),
        ("retries", True),
        ("retries", "1"),
        ("retries", 1.0),
        ("retries", None),
    ],
)
def test_bad_option_types_name_the_step_and_the_option(option: str, value: Any) -> None:
    with pytest.raises(WorkflowValidationError, match=rf"'_start'.*{option}"):
        step(**{option: value})(_start)


@pytest.mark.parametrize("name", [123, b"n", ""])
def test_bad_step_name_is_rejected(name: Any) -> None:
    with pytest.raises(WorkflowValidationError, match="name="):
        step(name=name)(_start)


def test_good_option_values_are_kept() -> None:
    async def s(ctx: Context, ev: StartEvent) -> None:
        return None

    spec = get_step_spec(step(max_concurrency=3, retries=2, retry_delay=0, timeout=5)(s))
    assert spec is not None
    assert (spec.max_concurrency, spec.retries, spec.retry_delay, spec.timeout) == (3, 2, 0, 5)
    assert type(spec.max_concurrency) is int
    assert type(spec.retries) is int
    assert type(spec.retry_delay) is float
    assert type(spec.timeout) is float
    assert step(timeout=None)(s).__blazen_step__.timeout is None  # type: ignore[attr-defined]
    assert step(retry_delay=0.25, timeout=0.5)(s).__blazen_step__.timeout == 0.5  # type: ignore[attr-defined]


# --- 3. inline events pickle --------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_inline_events_round_trip_through_pickle(protocol: int) -> None:
    with using_registry(SessionRefRegistry()):  # bytes and events in fields: inside a run
        inner = Event("Bar", blob=b"\x00\xff", n=None)
        ev = Event("Foo", x=1, items=[inner, {"k": inner}], typed=Analyze(text="t"))
    back = pickle.loads(pickle.dumps(ev, protocol=protocol))  # unpickling needs no run
    assert type(back) is inline_event_class("Foo")
    assert back.event_type == "Foo"
    assert back == ev
    assert back.to_dict() == ev.to_dict()
    assert type(back.items[0]) is inline_event_class("Bar")
    assert back.items[0].blob == b"\x00\xff"
    assert type(back.typed) is Analyze


def test_inline_event_with_a_field_named_like_a_pydantic_method_pickles() -> None:
    ev = Event("Odd", json="j", copy=2)
    back = pickle.loads(pickle.dumps(ev))
    assert (back.json, back.copy) == ("j", 2)


class _SubOfInline(inline_event_class("InlineBase")):  # type: ignore[misc]
    pass


def test_a_subclass_of_an_inline_class_still_pickles_by_name() -> None:
    back = pickle.loads(pickle.dumps(_SubOfInline(a=1)))
    assert type(back) is _SubOfInline
    assert back.a == 1


def test_ctx_set_of_an_inline_event_uses_the_native_tier() -> None:
    ctx = blazen.context.Context(str(uuid.uuid4()))
    ev = Event("Foo", x=1)
    ctx.set("k", ev)
    sv = ctx.get_value("k")
    assert sv is not None
    assert sv.is_native()
    got = ctx.get("k")
    assert got == ev
    assert got is not ev
    assert got.event_type == "Foo"
    assert got.x == 1


def test_an_inline_event_in_an_event_field_survives_snapshot_encoding() -> None:
    with using_registry(SessionRefRegistry()):  # an event in a field: only inside a run
        ev = InputRequestEvent(request_id="r", metadata={"inner": Event("Foo", x=1)})
    data = encode_event(ev)
    back = decode_event(InputRequestEvent.event_type, data, {})
    inner = back.metadata["inner"]
    assert inner.event_type == "Foo"
    assert inner.x == 1


@step
async def _ask_inline(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    ctx.set("kept", Event("Foo", x=1))
    return InputRequestEvent(request_id="q", metadata={"inner": Event("Foo", x=2)})


@step
async def _answer_inline(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    kept = ctx.get("kept")
    return StopEvent(result=(kept.event_type, kept.x, ev.response))


async def test_pause_with_an_inline_event_in_a_field_and_in_the_context() -> None:
    wf = Workflow(f"inline-pause-{uuid.uuid4()}", [_ask_inline, _answer_inline])
    handler = await wf.run_with_handler()

    async def asked() -> None:
        async for ev in handler.stream_events():
            if isinstance(ev, InputRequestEvent):
                return

    await asyncio.wait_for(asked(), 5)
    snap = await asyncio.wait_for(handler.pause(), 5)
    assert snap.context_state["kept"].is_native()
    resumed = await wf.resume(WorkflowSnapshot.from_bytes(snap.to_bytes()))
    await resumed.respond_to_input("q", "ok")
    stop = await asyncio.wait_for(resumed.result(), 5)
    assert stop.result == ("Foo", 1, "ok")


# --- 4. StateValue errors -----------------------------------------------------------------


def test_the_statevalue_base_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match=r"StateValue\.Json/Bytes/Native"):
        StateValue()


@pytest.mark.parametrize(
    "bad",
    [{}, {"Json": 1, "Bytes": b""}, {"Other": 1}, {"Bytes": "text"}, {"Bytes": [256]}, [1], None],
)
def test_from_dict_raises_context_error(bad: object) -> None:
    with pytest.raises(ContextError):
        StateValue.from_dict(bad)


@pytest.mark.parametrize(
    ("sv", "wrong"),
    [
        (StateValue.Json(1), ("as_bytes", "as_native")),
        (StateValue.Bytes(b"x"), ("as_json", "as_native")),
        (StateValue.Native(b"y"), ("as_json", "as_bytes")),
    ],
)
def test_wrong_kind_accessors_raise_context_error(sv: StateValue, wrong: tuple[str, ...]) -> None:
    for method in wrong:
        with pytest.raises(ContextError, match=f"is {sv.kind}"):
            getattr(sv, method)()
        with pytest.raises(TypeError):  # ContextError is a TypeError: old catchers still work
            getattr(sv, method)()


def test_variants_still_copy_and_pickle() -> None:
    for sv in (StateValue.Json({"a": [1]}), StateValue.Bytes(b"x"), StateValue.Native(b"y")):
        back = pickle.loads(pickle.dumps(sv))
        assert back == sv
        assert type(back) is type(sv)


# --- 5. human in the loop graph check ----------------------------------------------------


def test_input_request_without_a_responder_is_rejected_from_the_annotation() -> None:
    @step
    async def ask(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        return InputRequestEvent(request_id="q")

    with pytest.raises(
        WorkflowValidationError,
        match="'ask' returns InputRequestEvent but no step accepts InputResponseEvent",
    ):
        Workflow(f"hitl-{uuid.uuid4()}", [ask])


def test_input_request_without_a_responder_is_rejected_from_emits() -> None:
    @step(emits=[InputRequestEvent, StopEvent])
    async def ask2(ctx: Context, ev: StartEvent) -> Any:
        return InputRequestEvent(request_id="q")

    with pytest.raises(WorkflowValidationError, match="'ask2' returns InputRequestEvent"):
        Workflow(f"hitl-{uuid.uuid4()}", [ask2])


def test_input_request_with_a_responder_builds() -> None:
    Workflow(f"hitl-{uuid.uuid4()}", [_ask_inline, _answer_inline])


# --- 6. open_store messages ------------------------------------------------------------------


def test_a_store_backend_that_is_not_built_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from blazen.stores import base

    monkeypatch.setitem(base._SCHEMES, "nosuch", ("blazen.stores.nosuch", "NoSuchStore"))
    with pytest.raises(StoreError) as info:
        open_store("nosuch://h/db")
    msg = str(info.value)
    assert "the nosuch store is not available in this version" in msg
    assert "docs/stores.md" in msg
    assert "pip install" not in msg


@pytest.mark.parametrize(
    ("url", "extra", "driver"),
    [("postgresql://h/db", "postgres", "asyncpg"), ("postgres://h/db", "postgres", "asyncpg"),
     ("redis://h", "redis", "redis")],
)  # fmt: skip
def test_a_missing_driver_names_the_right_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, extra: str, driver: str
) -> None:
    def fake_import(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {driver!r}", name=driver)

    monkeypatch.setattr(store_base, "importlib", types.SimpleNamespace(import_module=fake_import))
    with pytest.raises(StoreError, match=re.escape(f"pip install 'pyblazen[{extra}]'")):
        open_store(url)


@pytest.mark.parametrize("url", ["", "   "])
def test_an_empty_store_url_is_an_error(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="empty store URL"):
        open_store(url)
    assert not (tmp_path / "blazen.db").exists()


async def test_none_still_means_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLAZEN_STORE", raising=False)
    store = open_store(None)
    try:
        assert type(store).__name__ == "SQLiteStore"
    finally:
        await store.close()


# --- 7. docs -----------------------------------------------------------------------------


def test_snapshot_format_doc_has_the_section_persist_points_to() -> None:
    doc = (DOCS / "snapshot-format.md").read_text(encoding="utf-8")
    heading = re.search(r"^##+ (?:\d+\. )?Snapshots from other engines\n", doc, re.M)
    assert heading is not None
    section = doc[heading.end() :].split("\n## ", 1)[0]
    assert 'metadata["blazen.engine"] == "pyblazen"' in section
    assert "`StartEvent`" in section
    assert "in order" in section
    assert "](durability.md" in section
    durability = (DOCS / "durability.md").read_text(encoding="utf-8")
    assert "### Snapshots from the Rust engine" in durability
