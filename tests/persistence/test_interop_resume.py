"""Resume the snapshots written by the Rust-core Blazen on this engine.

The files are the copies vendored under tests/snapshot/golden/rust-core-0.6.74/ (see its
README), so these tests run on every clone.
"""

from __future__ import annotations

from pathlib import Path

from blazen import (
    Context,
    ContextError,
    Event,
    StartEvent,
    StateValue,
    StopEvent,
    Workflow,
    WorkflowSnapshot,
    step,
)

INTEROP = Path(__file__).resolve().parents[1] / "snapshot" / "golden" / "rust-core-0.6.74"


class Next(Event):
    n: int


class Item(Event):
    i: int
    label: str


@step
async def demo_start(ctx: Context, ev: StartEvent) -> Next:
    """Fails the run if a resume delivers the StartEvent again (it was handled already)."""
    raise AssertionError("the StartEvent of a resumed run is not handled again")


@step
async def demo_next(ctx: Context, ev: Next) -> StopEvent:
    weights = ctx.get_bytes("model-weights") or b""
    return StopEvent(
        result={
            "n": ev.n,
            "user_id": ctx.get("user_id"),
            "doc_count": ctx.get("doc_count"),
            "cfg": ctx.get("cfg"),
            "unicode": ctx.get("unicode"),
            "weights_ok": weights == bytes(range(256)),
            "empty": ctx.get_bytes("empty-bytes"),
            "point": ctx.get_value("point"),
            "run_id": ctx.run_id(),
        }
    )


@step
async def fan_start(ctx: Context, ev: StartEvent) -> list[Item]:
    raise AssertionError("the StartEvent of a resumed run is not handled again")


@step
async def fan_collect(ctx: Context, ev: Item) -> StopEvent | None:
    items = ctx.collect_events(ev, [Item] * ctx.get("total"))
    if items is None:
        return None
    return StopEvent(result={"labels": [i.label for i in items], "blob": ctx.get_bytes("blob")})


demo = Workflow("interop-demo", [demo_start, demo_next])
fanout = Workflow("interop-fanout", [fan_start, fan_collect])


async def test_resume_rust_running_snapshot() -> None:
    text = (INTEROP / "blazen-0.6.74-running.json").read_text()
    handler = await Workflow.resume(text)
    result = (await handler.result()).result
    assert handler.run_id == "ae43f6b2-b52b-4d90-b30b-5cf46804649d"
    assert result["n"] == 1
    assert result["user_id"] == "user_123"
    assert result["doc_count"] == 5
    assert result["cfg"] == {"retries": 3, "tags": ["a", "b"], "nested": {"k": [1, 2, {"z": None}]}}
    assert result["unicode"] == "héllo ✓ 日本"
    assert result["weights_ok"] is True
    assert result["empty"] == b""
    point = result["point"]
    assert isinstance(point, StateValue.Native)
    assert point.data.startswith(b"\x80\x04")
    assert b"Point" in point.data
    assert result["run_id"] == handler.run_id


async def test_resume_rust_msgpack_snapshot() -> None:
    """The Rust core's to_msgpack() bytes (run id as a 16-byte bin) resume like its JSON."""
    handler = await Workflow.resume((INTEROP / "blazen-0.6.74-running.msgpack").read_bytes())
    result = (await handler.result()).result
    assert handler.run_id == "ae43f6b2-b52b-4d90-b30b-5cf46804649d"
    assert (result["n"], result["user_id"], result["weights_ok"]) == (1, "user_123", True)
    assert result["run_id"] == handler.run_id


async def test_resume_rust_fanout_snapshot_redelivers_collected_items() -> None:
    """Empty pending_events: the collected Items are delivered again, the StartEvent is not.

    ``fan_start`` fails the run if the StartEvent were delivered again.
    """
    data = (INTEROP / "blazen-0.6.74-fanout-pending.json").read_bytes()
    snap = WorkflowSnapshot.from_json(data)
    assert snap.pending_events == []
    assert set(snap.collected_events) == {"blazen::StartEvent", "Item"}
    handler = await fanout.resume(data)
    result = (await handler.result()).result
    assert result == {"labels": ["a", "b", "c"], "blob": b"\x00\xffblazen\x00"}


async def test_rust_snapshot_round_trips_through_our_bytes() -> None:
    snap = WorkflowSnapshot.from_json((INTEROP / "blazen-0.6.74-running.json").read_text())
    again = WorkflowSnapshot.from_bytes(snap.to_bytes())
    assert again.context_state == snap.context_state
    handler = await demo.resume(again)
    assert (await handler.result()).result["n"] == 1


async def test_reading_a_native_value_whose_class_is_gone_names_the_key() -> None:
    @step
    async def read_point(ctx: Context, ev: Next) -> StopEvent:
        try:
            ctx.get("point")  # a pickle of __main__.Point, a class this process lacks
        except ContextError as exc:
            return StopEvent(result=str(exc))
        return StopEvent(result="no error")

    wf = Workflow("interop-demo", [demo_start, read_point])
    handler = await wf.resume((INTEROP / "blazen-0.6.74-running.json").read_text())
    message = (await handler.result()).result
    assert "'point'" in message
    assert "get_value" in message
    Workflow("interop-demo", [demo_start, demo_next])  # restore the registry for other tests


@step
async def ask(ctx: Context, ev: StartEvent) -> Event:
    raise AssertionError("the asking step of a resumed waiting run is not run again")


@step(accepts=["blazen::InputResponseEvent"])
async def answer(ctx: Context, ev: Event) -> StopEvent:
    return StopEvent(
        result={"got": ev.response, "q": ctx.get("question"), "blob": ctx.get_bytes("blob")}
    )


async def test_resume_a_rust_snapshot_waiting_for_input() -> None:
    text = (INTEROP / "blazen-0.6.74-waiting-input.json").read_text()
    handler = await Workflow.resume(text, [ask, answer])
    assert [r.request_id for r in handler.input_requests()] == ["req-1"]
    assert handler.input_requests()[0].prompt == "name?"
    await handler.respond_to_input("req-1", {"name": "Ada"})
    result = await handler.result()
    assert result.result == {"got": {"name": "Ada"}, "q": "who?", "blob": b"\x00\x01\xff"}
