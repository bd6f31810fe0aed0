"""Forward a stored Python object between keys without unpickling it.

``ctx.get_value`` hands back a ``StateValue.Native`` (pickle bytes, never decoded) and
``ctx.set_value`` stores it as is, so the bytes at the new key are exactly the old ones.
"""

import asyncio
import pickle
from dataclasses import dataclass

from blazen import Context, Event, StartEvent, StateValue, StopEvent, Workflow, step


@dataclass
class Model:
    name: str
    layers: tuple[int, ...]


class Stored(Event):
    pass


@step
async def produce(ctx: Context, ev: StartEvent) -> Stored:
    # Pickled with an old protocol on purpose: re-pickling would give other bytes.
    ctx.set_value("model", StateValue.Native(pickle.dumps(Model("tiny", (4, 2)), protocol=2)))
    return Stored()


@step
async def forward(ctx: Context, ev: Stored) -> StopEvent:
    sv = ctx.get_value("model")
    assert isinstance(sv, StateValue.Native)
    ctx.set_value("model.backup", sv)  # no unpickling, no re-encoding
    same = ctx.get_value("model.backup") == sv  # equal variants: equal bytes
    repickled = pickle.dumps(ctx.get("model.backup")) == sv.as_native()
    return StopEvent(result=(same, repickled, ctx.get("model.backup")))


async def main() -> None:
    result = await Workflow("forward-native", [produce, forward]).run()
    same, repickled, model = result.result
    print("forwarded bytes identical:", same)
    print("re-pickling would give the same bytes:", repickled)
    print("decoded on demand:", model)


if __name__ == "__main__":
    asyncio.run(main())
