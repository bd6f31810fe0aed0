"""Quickstart: a three-step pipeline that scores a text and streams its progress.

StartEvent(text=...) -> analyze -> AnalyzeEvent -> summarize -> StopEvent(result=...)
"""

import asyncio

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class AnalyzeEvent(Event):
    text: str
    score: float


class Progress(Event):
    message: str


@step
async def analyze(ctx: Context, ev: StartEvent) -> AnalyzeEvent:
    words = ev.text.split()
    positive = sum(w.strip(".,!").lower() in {"good", "great", "love"} for w in words)
    ctx.write_event_to_stream(Progress(message=f"analyzed {len(words)} words"))
    return AnalyzeEvent(text=ev.text, score=positive / max(len(words), 1))


@step
async def summarize(ctx: Context, ev: AnalyzeEvent) -> StopEvent:
    mood = "positive" if ev.score > 0.2 else "neutral"
    ctx.write_event_to_stream(Progress(message="summary ready"))
    return StopEvent(result={"mood": mood, "score": round(ev.score, 2)})


workflow = Workflow("quickstart", [analyze, summarize], timeout=10)


async def main() -> None:
    handler = await workflow.run_with_handler(text="I love this library, it is great.")
    async for event in handler.stream_events():
        print("progress:", event.message)
    result = await handler.result()
    print("result:", result.result)


if __name__ == "__main__":
    asyncio.run(main())
