"""Route by hand with ``ctx.send_event``: a high score goes one way, a low score the other."""

import asyncio

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class HighScore(Event):
    score: int


class LowScore(Event):
    score: int


@step(emits=[HighScore, LowScore])
async def grade(ctx: Context, ev: StartEvent) -> None:
    if ev.score >= 50:
        ctx.send_event(HighScore(score=ev.score))
    else:
        ctx.send_event(LowScore(score=ev.score))


@step
async def celebrate(ctx: Context, ev: HighScore) -> StopEvent:
    return StopEvent(result=f"{ev.score}: passed, well done")


@step
async def retry(ctx: Context, ev: LowScore) -> StopEvent:
    return StopEvent(result=f"{ev.score}: try again")


workflow = Workflow("manual-routing", [grade, celebrate, retry])


async def main() -> None:
    for score in (92, 31):
        result = await workflow.run(score=score)
        print(result.result)


if __name__ == "__main__":
    asyncio.run(main())
