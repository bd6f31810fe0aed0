"""The README's first program: two steps, a typed event, a result.

Runs unchanged on the Rust-core ``blazen`` package; add ``store="sqlite:///runs.db"`` to
``Workflow(...)`` to make every run durable.
"""

import asyncio

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class GreetEvent(Event):
    name: str


@step
async def parse(ctx: Context, ev: StartEvent) -> GreetEvent:
    ctx.set("seen", [ev.name])
    return GreetEvent(name=ev.name)


@step
async def greet(ctx: Context, ev: GreetEvent) -> StopEvent:
    return StopEvent(result={"greeting": f"Hello, {ev.name}!", "seen": ctx.get("seen")})


async def main() -> None:
    wf = Workflow("hello", [parse, greet])
    result = await wf.run(name="Blazen")  # runs to the end: a WorkflowResult
    print(result.result)


if __name__ == "__main__":
    asyncio.run(main())
