"""A human-in-the-loop workflow used by the pause/resume tests (also run as a subprocess).

``python hitl_workflow.py SNAPSHOT_FILE ANSWER`` resumes the paused run from the
snapshot bytes, answers its input request and prints ``RESULT <value>``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

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


class Drafted(Event):
    draft: str


def _effect(name: str) -> None:
    with open(os.environ["HITL_LOG"], "a", encoding="utf-8") as fh:
        fh.write(name + "\n")


@step
async def draft(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    _effect("draft")
    ctx.set("draft", f"Dear {ev.name},")
    ctx.set_bytes("attachment", b"\x00\x01binary\xff")
    return InputRequestEvent(request_id="approve-1", prompt="Approve the draft?", metadata={"n": 1})


@step
async def decide(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    _effect("decide")
    return StopEvent(
        result={
            "draft": ctx.get("draft"),
            "answer": ev.response,
            "attachment": len(ctx.get_bytes("attachment") or b""),
            "run_id": ctx.run_id(),
        }
    )


workflow = Workflow("hitl", [draft, decide])


async def _resume(snapshot_file: str, answer: str) -> None:
    handler = await Workflow.resume(Path(snapshot_file).read_bytes())
    async for ev in handler.stream_events():  # the resumed run re-announces its request
        if isinstance(ev, InputRequestEvent):
            await handler.respond_to_input(ev.request_id, answer)
            break
    print("RESULT", (await handler.result()).result, flush=True)


if __name__ == "__main__":
    asyncio.run(_resume(sys.argv[1], sys.argv[2]))
