"""Pause, snapshot and resume: nothing in flight is lost, the same result comes out."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from blazen import (
    Context,
    Event,
    InputRequestEvent,
    InputResponseEvent,
    PauseError,
    RunAbortedError,
    SessionPauseError,
    StartEvent,
    StateValue,
    StopEvent,
    Workflow,
    WorkflowError,
    WorkflowHandler,
    WorkflowSnapshot,
    step,
)

sys.path.insert(0, str(Path(__file__).parent))
from waiting import next_request, turns, until

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"


class Item(Event):
    i: int


class Done(Event):
    i: int
    square: int


N = 40
squared: list[int] = []  # the Items ``square`` has handled, across runs (reset by each test)


@step
async def fan(ctx: Context, ev: StartEvent) -> list[Item]:
    ctx.set_bytes("blob", bytes(range(256)) * 4)
    ctx.set("native", {1, 2, 3})
    return [Item(i=i) for i in range(ev.n)]


@step(max_concurrency=3)
async def square(ctx: Context, ev: Item) -> Done:
    for _ in range(ev.i % 4):  # suspend 0-3 times: deliveries overlap and finish out of order
        await asyncio.sleep(0)
    squared.append(ev.i)
    ctx.set(f"sq{ev.i}", ev.i * ev.i)
    return Done(i=ev.i, square=ev.i * ev.i)


@step
async def total(ctx: Context, ev: Done) -> StopEvent | None:
    done = ctx.collect_events(ev, [Done] * N)
    if done is None:
        return None
    stored = sum(ctx.get(f"sq{i}") for i in range(N))
    blob = ctx.get_bytes("blob") or b""
    return StopEvent(
        result={
            "order": [d.i for d in done] == sorted(d.i for d in done) or "unordered",
            "sum": sum(d.square for d in done),
            "stored": stored,
            "blob": len(blob),
            "native": sorted(ctx.get("native")),
        }
    )


fan_wf = Workflow("pause-fanout", [fan, square, total])
EXPECTED_SUM = sum(i * i for i in range(N))


def _check(result: dict[str, object]) -> None:
    assert result["sum"] == EXPECTED_SUM
    assert result["stored"] == EXPECTED_SUM
    assert result["blob"] == 1024
    assert result["native"] == [1, 2, 3]


async def test_pause_at_many_instants_gives_the_exact_result() -> None:
    # Pause after k of the N squares ran, for k = 0, 1, ..., 30: every pause must succeed
    # (a failed pause is an error, never skipped) and every resume give the exact result.
    paused = 0
    for k in range(0, 31):
        squared.clear()
        handler = await fan_wf.run_with_handler(n=N)
        await until(lambda k=k: len(squared) >= k, f"{k} squares ran")
        snapshot = await handler.pause()
        if snapshot is None:  # the run ended while its running steps finished
            assert handler.status == "completed"
            _check((await handler.result()).result)
            continue
        paused += 1
        assert handler.status == "paused"
        data = snapshot.to_bytes() if k % 2 else snapshot.to_json()
        resumed = await Workflow.resume(data)
        assert resumed.run_id == handler.run_id
        _check((await resumed.result()).result)
        if k % 3 == 0:  # the paused original can also continue in place, to the same result
            await handler.resume_in_place()
            _check((await handler.result()).result)
        else:
            await handler.abort()
            with pytest.raises(RunAbortedError, match="aborted"):
                await handler.result()
    assert paused >= 25  # at most the last few pauses can meet a run that just ended


async def test_pause_captures_events_of_steps_in_flight() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    class Slow(Event):
        pass

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Slow:
        return Slow()

    @step
    async def slow(ctx: Context, ev: Slow) -> Item:
        started.set()
        await gate.wait()
        ctx.set("slow-ran", True)
        return Item(i=7)

    @step
    async def finish(ctx: Context, ev: Item) -> StopEvent:
        return StopEvent(result=(ev.i, ctx.get("slow-ran")))

    wf = Workflow("inflight", [begin, slow, finish])
    handler = await wf.run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    pausing = asyncio.ensure_future(handler.pause())
    await turns()
    assert not pausing.done()  # waits for the running step
    gate.set()
    snapshot = await pausing
    assert [p.event_type for p in snapshot.pending_events] == ["Item"]
    assert snapshot.pending_events[0].source_step == "slow"
    assert snapshot.context_state["slow-ran"] == StateValue.Json(True)
    resumed = await wf.resume(snapshot)
    assert (await resumed.result()).result == (7, True)


async def test_snapshot_does_not_stop_the_run_and_resumes_elsewhere() -> None:
    squared.clear()
    handler = await fan_wf.run_with_handler(n=N)
    await until(lambda: len(squared) >= 5, "5 squares ran")
    snapshot = await handler.take_snapshot()
    assert snapshot.pending_events  # taken mid-run
    _check((await handler.result()).result)  # the original run goes on
    resumed = await Workflow.resume(WorkflowSnapshot.from_bytes(snapshot.to_bytes()))
    assert resumed.run_id == handler.run_id
    _check((await resumed.result()).result)


async def test_resume_by_steps_list_and_unknown_name() -> None:
    handler = await fan_wf.run_with_handler(n=N)
    snapshot = await handler.pause()
    resumed = await Workflow.resume(snapshot.to_bytes(), steps=[fan, square, total])
    _check((await resumed.result()).result)
    snapshot.workflow_name = "never-built"
    with pytest.raises(WorkflowError, match="never-built"):
        await Workflow.resume(snapshot)


async def test_binary_and_native_values_survive_pause() -> None:
    weights = os.urandom(1 << 16)

    @step
    async def put(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.set_bytes("weights", weights)
        ctx.set("point", complex(3, 4))
        ctx.set_value("raw", StateValue.Native(b"\x80\x04K\x05."))
        return InputRequestEvent(request_id="go")

    @step
    async def use(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(
            result=(ctx.get_bytes("weights") == weights, ctx.get("point"), ctx.get_value("raw"))
        )

    wf = Workflow("binary-pause", [put, use])
    handler = await wf.run_with_handler()
    await next_request(handler)
    snapshot = WorkflowSnapshot.from_bytes((await handler.pause()).to_bytes())
    assert snapshot.context_state["weights"] == StateValue.Bytes(weights)
    assert snapshot.pending_events == []
    resumed = await wf.resume(snapshot)
    await resumed.respond_to_input("go", None)
    result = (await resumed.result()).result
    assert result == (True, complex(3, 4), StateValue.Native(b"\x80\x04K\x05."))


def _session_wf(policy: str) -> Workflow:
    @step
    async def open_(ctx: Context, ev: StartEvent) -> InputRequestEvent:
        ctx.session.set("counter", [1, 2])
        ctx.session.set("lock", threading.Lock() if ev.live else "plain")
        return InputRequestEvent(request_id="r")

    @step
    async def hold(ctx: Context, ev: InputResponseEvent) -> StopEvent:
        return StopEvent(result=ctx.session.get("counter"))

    return Workflow(f"session-{policy}", [open_, hold], session_pause_policy=policy)  # type: ignore[arg-type]


async def _finish(handler: WorkflowHandler) -> object:
    await handler.respond_to_input("r", None)
    return (await handler.result()).result


async def test_session_pickle_or_error_names_the_keys_and_keeps_running() -> None:
    wf = _session_wf("pickle_or_error")
    handler = await wf.run_with_handler(live=True)
    await next_request(handler)
    with pytest.raises(SessionPauseError, match="lock") as info:
        await handler.pause()
    assert info.value.keys == ["lock"]
    assert handler.status == "waiting"  # unchanged by the refused pause
    assert await _finish(handler) == [1, 2]


async def test_session_pickle_or_error_restores_picklable_entries() -> None:
    wf = _session_wf("pickle_or_error")
    handler = await wf.run_with_handler(live=False)
    await next_request(handler)
    snapshot = await handler.pause()
    assert snapshot.context_state["__blazen_session__.counter"].is_native()
    resumed = await wf.resume(snapshot.to_bytes())
    assert await _finish(resumed) == [1, 2]


async def test_session_warn_drop_and_hard_error() -> None:
    wf = _session_wf("warn_drop")
    handler = await wf.run_with_handler(live=True)
    await next_request(handler)
    with pytest.warns(RuntimeWarning, match="lock"):
        snapshot = await handler.pause()
    assert not any("lock" in k for k in snapshot.context_state)
    assert await _finish(await wf.resume(snapshot)) == [1, 2]

    wf = _session_wf("hard_error")
    handler = await wf.run_with_handler(live=False)
    await next_request(handler)
    with pytest.raises(SessionPauseError, match="hard_error"):
        await handler.pause()
    assert await _finish(handler) == [1, 2]


async def test_pause_that_races_the_end_of_the_run_does_not_hang() -> None:
    class Wait(Event):
        pass

    started, gate = asyncio.Event(), asyncio.Event()

    @step
    async def begin(ctx: Context, ev: StartEvent) -> Wait:
        return Wait()

    @step
    async def end(ctx: Context, ev: Wait) -> StopEvent:
        started.set()
        await gate.wait()
        return StopEvent(result="done")

    wf = Workflow("pause-race", [begin, end])
    handler = await wf.run_with_handler()
    await asyncio.wait_for(started.wait(), 5)
    pausing = asyncio.ensure_future(handler.pause())
    await turns()
    assert not pausing.done()  # waits for ``end``, which returns the StopEvent
    gate.set()
    assert await asyncio.wait_for(pausing, 5) is None  # ended while pausing
    assert (await handler.result()).result == "done"


def test_human_in_the_loop_resumes_in_another_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    try:
        import hitl_workflow
    finally:
        sys.path.remove(str(HERE))
    log = tmp_path / "effects.log"
    os.environ["HITL_LOG"] = str(log)

    async def start() -> tuple[str, bytes, list[Event]]:
        handler = await hitl_workflow.workflow.run_with_handler(name="Ada")
        seen: list[Event] = []
        async for ev in handler.stream_events():
            seen.append(ev)
            if isinstance(ev, InputRequestEvent):
                break
        snapshot = await handler.pause()
        return handler.run_id, snapshot.to_bytes(), seen

    try:
        run_id, data, seen = asyncio.run(start())
    finally:
        del os.environ["HITL_LOG"]
    assert isinstance(seen[-1], InputRequestEvent)
    assert seen[-1].prompt == "Approve the draft?"
    snap_file = tmp_path / "paused.msgpack"
    snap_file.write_bytes(data)
    env = dict(os.environ, HITL_LOG=str(log))
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, str(HERE / "hitl_workflow.py"), str(snap_file), "yes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout.strip()
    result = ast.literal_eval(out.removeprefix("RESULT "))
    assert result == {"draft": "Dear Ada,", "answer": "yes", "attachment": 9, "run_id": run_id}
    assert log.read_text().split() == ["draft", "decide"]  # the draft step never ran twice


async def test_respond_to_unknown_request_and_paused_result() -> None:
    sys.path.insert(0, str(HERE))
    try:
        import hitl_workflow
    finally:
        sys.path.remove(str(HERE))
    os.environ["HITL_LOG"] = os.devnull
    try:
        handler = await hitl_workflow.workflow.run_with_handler(name="Bo")
        await next_request(handler)
        await until(lambda: handler.status == "waiting", "the run waits for input")
        with pytest.raises(WorkflowError, match="nope"):
            await handler.respond_to_input("nope", 1)
        await handler.respond_to_input("approve-1", "ok")
        assert (await handler.result()).result["answer"] == "ok"
    finally:
        del os.environ["HITL_LOG"]


async def test_pause_of_finished_run_is_an_error() -> None:
    handler = await fan_wf.run_with_handler(n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(WorkflowError, match="'pause-fanout' stalled"):
            await handler.result()  # n=2 never collects N events: the run stalls
    with pytest.raises(PauseError, match="only a live run"):
        await handler.pause()
