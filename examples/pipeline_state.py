"""A ``BlazenState`` dataclass stored field by field.

``Meta.transient`` fields are never stored (``None`` when read back, reopened by
``restore()``); ``Meta.store_by`` fields go through a field store, here a dict standing in
for a blob store.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blazen import (
    BlazenState,
    CallbackFieldStore,
    Context,
    Event,
    FieldStore,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)

BLOB_STORE: dict[str, list[float]] = {}  # stands in for S3, a file system...


def save_weights(key: str, value: Any) -> None:
    BLOB_STORE[key] = value


def load_weights(key: str) -> Any:
    return BLOB_STORE[key]


class FakeConnection:
    def query(self, q: str) -> list[str]:
        return [f"{q}-1", f"{q}-2"]


@dataclass
class PipelineState(BlazenState):
    query: str
    results: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    conn: FakeConnection | None = None

    class Meta:
        transient: ClassVar[set[str]] = {"conn"}
        store_by: ClassVar[dict[str, FieldStore]] = {
            "weights": CallbackFieldStore(save_weights, load_weights)
        }

    def restore(self) -> None:
        self.conn = FakeConnection()  # reopen what was not stored


class Searched(Event):
    pass


@step
async def search(ctx: Context, ev: StartEvent) -> Searched:
    conn = FakeConnection()
    state = PipelineState(query=ev.query, weights=[0.25, 0.75], conn=conn)
    state.results = conn.query(state.query)
    ctx.set("pipeline", state)
    return Searched()


@step
async def rank(ctx: Context, ev: Searched) -> StopEvent:
    state = ctx.get("pipeline")  # rebuilt field by field, then restore() ran
    ranked = sorted(zip(state.weights, state.results, strict=False), reverse=True)
    return StopEvent(result=[r for _, r in ranked])


async def main() -> None:
    handler = await Workflow("pipeline-state", [search, rank]).run_with_handler(query="blazen")
    print("ranked:", (await handler.result()).result)
    ctx = handler.context
    for name in ("query", "results", "__blazen_meta__", "conn", "weights"):
        sv = ctx.get_value(f"pipeline.{name}")
        print(f"pipeline.{name}: {'not in the context' if sv is None else sv.kind}")
    print("blob store:", BLOB_STORE)


if __name__ == "__main__":
    asyncio.run(main())
