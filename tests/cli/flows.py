"""Small workflows the CLI tests run as TARGETs (``tests/cli/flows.py:<name>``)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

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


@step
async def echo_args(ctx: Context, ev: StartEvent) -> StopEvent:
    """Return the run's arguments with their Python type names."""
    fields = ev.to_dict()
    return StopEvent(result={k: [v, type(v).__name__] for k, v in sorted(fields.items())})


echo = Workflow("cli-echo", [echo_args])


def make_echo() -> Workflow:
    """A zero-argument factory (TARGET may name one)."""
    return echo


@step
async def explode(ctx: Context, ev: StartEvent) -> StopEvent:
    ctx.set("before", "the failure")
    raise ValueError(f"boom ({getattr(ev, 'why', 'no reason')})")


failing = Workflow("cli-failing", [explode])


@step
async def ask_name(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    ctx.write_event_to_stream(Event("Note", text="about to ask"))
    return InputRequestEvent(request_id="name", prompt="What is your name?")


@step
async def greet(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    return StopEvent(result=f"hello, {ev.response}")


ask = Workflow("cli-ask", [ask_name, greet])


class Odd:
    """Not JSON: the CLI prints it with rich's pretty printer."""

    def __repr__(self) -> str:
        return "Odd()"


@step
async def odd_result(ctx: Context, ev: StartEvent) -> StopEvent:
    if getattr(ev, "keys", False):
        return StopEvent(result={1: "one"})  # not JSON as it is: int keys
    return StopEvent(result={"value": Odd()})


odd = Workflow("cli-odd", [odd_result])


class Half(Event):
    value: int


@step
async def first_half(ctx: Context, ev: StartEvent) -> Half:
    ctx.set("first_runs", ctx.get("first_runs", 0) + 1)
    return Half(value=int(getattr(ev, "n", 1)) * 2)


@step
async def second_half(ctx: Context, ev: Half) -> StopEvent:
    """Dies with the process when ./crash exists, raises while ./broken exists."""
    if os.path.exists("crash"):
        os.remove("crash")
        await asyncio.sleep(0.3)  # let the first step's commit land
        os._exit(17)
    if os.path.exists("broken"):
        raise RuntimeError("the file 'broken' is in the way")
    return StopEvent(result={"value": ev.value + 1, "first_runs": ctx.get("first_runs")})


flaky = Workflow("cli-flaky", [first_half, second_half])

not_a_workflow = 42


def needs_an_argument(x: int) -> Workflow:
    return echo


def returns_a_number() -> Any:
    return 7
