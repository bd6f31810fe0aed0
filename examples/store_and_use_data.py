"""Store data in the Context in one step and use it in another.

``ctx.set`` picks the storage tier from the value: JSON data, bytes, or a pickled Python
object; ``ctx.get`` gives back the original type. Stored values have value semantics.
"""

import asyncio
import datetime

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class Loaded(Event):
    count: int


@step
async def load(ctx: Context, ev: StartEvent) -> Loaded:
    ctx.set("user", {"name": ev.name, "tags": ["new"]})  # JSON
    ctx.set("seen_at", datetime.date(2024, 1, 31))  # picklable: kept as a Native value
    ctx.set("coords", (52.5, 13.4))  # a tuple stays a tuple
    return Loaded(count=3)


@step
async def use(ctx: Context, ev: Loaded) -> StopEvent:
    user = ctx.get("user")
    user["tags"].append("changed locally")  # a private copy: the store is unchanged
    assert ctx.get("user")["tags"] == ["new"]
    user["tags"] = ["new", "active"]
    ctx.set("user", user)  # write it back to change the store

    seen_at, coords = ctx.get("seen_at"), ctx.get("coords")
    missing = ctx.get("missing", "default")
    return StopEvent(result=(ctx.get("user"), seen_at, coords, missing))


async def main() -> None:
    result = await Workflow("store-and-use", [load, use]).run(name="Ada")
    user, seen_at, coords, missing = result.result
    print("user:", user)
    print("seen_at:", seen_at.isoformat(), type(seen_at).__name__)
    print("coords:", coords, type(coords).__name__)
    print("missing:", missing)


if __name__ == "__main__":
    asyncio.run(main())
