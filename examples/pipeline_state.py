"""A ``BlazenState`` dataclass stored field by field.

``Meta.transient`` fields are never stored (``None`` when read back, reopened by
``restore()``); ``Meta.store_by`` fields go through a field store, here a dict standing in
for an object store. Its ``save`` writes each value under a name made from the value's
content and returns that name: the run's checkpoint keeps it, so every run, fork and
resume loads the value it saved, never another run's.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blazen import (
    BlazenState,
    Context,
    Event,
    FieldStore,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)


class BlobStore:
    """A FieldStore: ``save`` returns a reference, which ``load`` gets back."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}  # stands in for S3, a file system...

    def save(self, key: str, value: Any, ctx: Context) -> str:
        data = json.dumps(value).encode()
        ref = f"{key}-{hashlib.sha256(data).hexdigest()[:12]}"  # never overwritten
        self.blobs[ref] = data
        return ref

    def load(self, ref: str, ctx: Context) -> Any:
        return json.loads(self.blobs[ref])


BLOB_STORE = BlobStore()


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
        store_by: ClassVar[dict[str, FieldStore]] = {"weights": BLOB_STORE}

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
    print("blob store:", sorted(BLOB_STORE.blobs))
    print("reference in the checkpoint:", ctx.get("pipeline.__blazen_meta__")["refs"])


if __name__ == "__main__":
    asyncio.run(main())
