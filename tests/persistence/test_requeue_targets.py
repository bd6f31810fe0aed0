"""Resuming honours the step each pending delivery was queued for, when that step takes it.

A snapshot records, under ``metadata["blazen.targets"]``, the step each pending event
was queued for: an event accepted by two steps, handled by one of them, must reach only
the other one after a resume. A target that does not fit (a step that does not accept
the event, an unknown step, a list of the wrong length) is ignored: the event is routed
by its type, as if no target had been recorded.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, WorkflowSnapshot, step
from blazen._meta import TARGETS_KEY

sys.path.insert(0, str(Path(__file__).parent))
from waiting import until

log: list[str] = []
hold = {"right": asyncio.Event()}


class Ping(Event):
    pass


class Pong(Event):
    pass


@step
async def start(ctx: Context, ev: StartEvent) -> Ping:
    return Ping()


@step
async def left(ctx: Context, ev: Ping) -> None:
    log.append("left")


@step
async def right(ctx: Context, ev: Ping) -> StopEvent:
    log.append("right")
    await hold["right"].wait()
    return StopEvent(result="right")


@step
async def other(ctx: Context, ev: Pong) -> StopEvent:
    return StopEvent(result=f"other got {type(ev).__name__}")


wf = Workflow("requeue-targets", [start, left, right, other])


async def _snapshot_with_right_in_flight() -> WorkflowSnapshot:
    """A snapshot taken while ``right`` runs: ``left`` has handled its Ping already."""
    log.clear()
    hold["right"] = asyncio.Event()
    handler = await wf.run_with_handler()
    await until(lambda: log == ["left", "right"], "both steps took their Ping")
    snapshot = await handler.take_snapshot()
    await handler.abort()
    return snapshot


async def _resume(snapshot: WorkflowSnapshot) -> tuple[Any, list[str]]:
    log.clear()
    hold["right"].set()
    resumed = await wf.resume(snapshot.to_bytes())
    result = (await asyncio.wait_for(resumed.result(), 5)).result
    return result, sorted(log)


def test_the_workflow_routes_ping_to_two_steps() -> None:
    assert [s.name for s in wf.graph.routes[Ping.event_type]] == ["left", "right"]
    assert [s.name for s in wf.graph.routes[Pong.event_type]] == ["other"]


async def test_a_pending_delivery_goes_back_to_its_own_step_only() -> None:
    snapshot = await _snapshot_with_right_in_flight()
    assert [p.event_type for p in snapshot.pending_events] == [Ping.event_type]
    assert snapshot.metadata[TARGETS_KEY] == ["right"]
    result, ran = await _resume(snapshot)
    assert result == "right"
    assert ran == ["right"]  # ``left`` handled its Ping before the snapshot: not again


@pytest.mark.parametrize(
    "targets",
    [["other"], ["ghost"], [None], [], ["right", "left"], "right", [3], [["right"]]],
    ids=[
        "step-not-accepting",
        "unknown-step",
        "none",
        "too-short",
        "too-long",
        "not-a-list",
        "int",
        "list",
    ],
)
async def test_a_target_that_does_not_fit_routes_the_event_by_type(targets: Any) -> None:
    snapshot = await _snapshot_with_right_in_flight()
    snapshot.metadata[TARGETS_KEY] = targets
    result, ran = await _resume(snapshot)
    assert result == "right"  # never "other got Ping"
    assert ran == ["left", "right"]  # by type: every step that takes a Ping
