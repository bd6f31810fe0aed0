"""Every run has its own id: ``ctx.run_id()`` inside steps, ``handler.run_id`` outside."""

import asyncio

from blazen import Context, StartEvent, StopEvent, Workflow, step


@step
async def tag(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result=f"job {ev.job} ran in {ctx.run_id()}")


async def main() -> None:
    workflow = Workflow("run-id", [tag])
    first = await workflow.run_with_handler(job=1)
    second = await workflow.run_with_handler(job=2)
    for handler in (first, second):
        result = (await handler.result()).result
        print(result)
        print("same id outside:", result.endswith(handler.run_id))
    print("ids differ:", first.run_id != second.run_id)


if __name__ == "__main__":
    asyncio.run(main())
