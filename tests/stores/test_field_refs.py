"""``store_by`` fields of durable runs: forks and resumes find their own data (every store)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from blazen import (
    BlazenState,
    CallbackFieldStore,
    Context,
    ContextError,
    FieldStore,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StepError,
    StopEvent,
    Workflow,
    WorkflowHandler,
    step,
)
from blazen.stores.base import CheckpointStore


class Files:
    """Writes each value to a new file and returns its path: the field's reference."""

    folder = Path()

    def save(self, key: str, value: Any, ctx: Any) -> str:
        path = self.folder / f"{key}-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(value))
        return str(path)

    def load(self, path: Any, ctx: Any) -> Any:
        return json.loads(Path(path).read_text())


FILES = Files()
ONE_FILE: dict[str, Any] = {}  # keyed by the field's key alone: shared by every run


@dataclass
class ByRef(BlazenState):
    vectors: list[int]

    class Meta:
        store_by: ClassVar[dict[str, FieldStore]] = {"vectors": FILES}


@dataclass
class ByKey(BlazenState):
    vectors: list[int]

    class Meta:
        store_by: ClassVar[dict[str, FieldStore]] = {
            "vectors": CallbackFieldStore(ONE_FILE.__setitem__, ONE_FILE.__getitem__)
        }


@step
async def first(ctx: Context, ev: StartEvent) -> InputRequestEvent:
    cls = ByRef if ev.by == "ref" else ByKey
    ctx.set("pipeline", cls(vectors=[1]))
    return InputRequestEvent(request_id="more", prompt="add what?")


@step
async def second(ctx: Context, ev: InputResponseEvent) -> StopEvent:
    state = ctx.get("pipeline")
    state.vectors.append(ev.response)
    ctx.set("pipeline", state)
    return StopEvent(result=ctx.get("pipeline").vectors)


def flow(store: CheckpointStore) -> Workflow:
    return Workflow("field-refs", [first, second], store=store)


async def paused(store: CheckpointStore, by: str) -> str:
    """A run that saved ``[1]`` and waits for input, paused; its id."""
    handler = await flow(store).run_with_handler(by=by)
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break
    await handler.pause()
    return handler.run_id


async def answer(handler: WorkflowHandler, value: int) -> Any:
    await handler.respond_to_input("more", value)
    return (await handler.result()).result


@pytest.fixture(autouse=True)
def _files(tmp_path: Path) -> None:
    FILES.folder = tmp_path
    ONE_FILE.clear()


async def test_a_fork_and_its_parent_each_find_their_own_data(
    store: CheckpointStore, tmp_path: Path
) -> None:
    run_id = await paused(store, "ref")
    assert await answer(await flow(store).fork_run(run_id), 7) == [1, 7]
    assert await answer(await flow(store).resume_run(run_id), 5) == [1, 5]
    assert len(list(tmp_path.glob("pipeline.vectors-*.json"))) == 3  # [1], [1, 7], [1, 5]


async def test_a_fork_overwriting_its_parents_data_by_key_is_caught(store: CheckpointStore) -> None:
    run_id = await paused(store, "key")
    assert await answer(await flow(store).fork_run(run_id), 7) == [1, 7]
    resumed = await flow(store).resume_run(run_id)
    await resumed.respond_to_input("more", 5)
    with pytest.raises(StepError, match="second") as info:
        await resumed.result()
    assert isinstance(info.value.__cause__, ContextError)
    assert "field store of pipeline.vectors loaded (by the key" in str(info.value.__cause__)


async def test_a_snapshot_carries_the_reference(tmp_path: Path) -> None:
    wf = Workflow("field-refs-snapshot", [first, second])
    handler = await wf.run_with_handler(by="ref")
    async for event in handler.stream_events():
        if isinstance(event, InputRequestEvent):
            break
    data = (await handler.pause()).to_bytes()
    (saved,) = tmp_path.glob("pipeline.vectors-*.json")
    assert await answer(await wf.resume(data), 2) == [1, 2]
    assert await answer(await wf.resume(data), 3) == [1, 3]  # the same snapshot, again
    assert json.loads(saved.read_text()) == [1]
