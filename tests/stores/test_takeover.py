"""A durable run taken over by another process mid-step stops with an error saying so."""

from __future__ import annotations

import asyncio
import re

import pytest

from blazen import Context, StartEvent, StopEvent, Workflow, step
from blazen.errors import StoreConflictError
from blazen.stores.base import CheckpointStore


async def test_a_run_taken_over_mid_step_says_what_happened_and_what_to_do(
    store: CheckpointStore,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    @step
    async def slow(ctx: Context, ev: StartEvent) -> StopEvent:
        entered.set()
        await release.wait()
        return StopEvent(result="too late")

    handler = await Workflow("takeover", [slow], store=store).run_with_handler()
    await entered.wait()
    mine = (await store.get_run(handler.run_id)).owner
    await store.claim(handler.run_id, "other-host:42:beef")
    release.set()
    run_id = handler.run_id
    expected = (
        f"run {run_id!r} was taken over by another process (owner 'other-host:42:beef') while"
        f" this one ({mine!r}) was running it: this commit was refused (nothing written) and"
        f" this process stops running the run; the other owner continues it (see `blazen runs"
        f" show {run_id}`)"
    )
    with pytest.raises(StoreConflictError, match=re.escape(expected)):
        await handler.result()
    record = await store.get_run(run_id)
    assert (record.owner, record.status, record.last_seq) == ("other-host:42:beef", "running", 0)
