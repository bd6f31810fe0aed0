"""Direct access to stored values: ``ctx.get_value`` returns a ``StateValue`` to ``match`` on."""

import asyncio
import pickle
from fractions import Fraction

from blazen import Context, StartEvent, StateValue, StopEvent, Workflow, step


def describe(sv: StateValue | None) -> str:
    match sv:
        case StateValue.Json(value=v):
            return f"json   {v!r}"
        case StateValue.Bytes(data=b):
            return f"bytes  {len(b)} bytes"
        case StateValue.Native(data=p):
            return f"native {len(p)} pickle bytes, holding {pickle.loads(p)!r}"
    return "missing"


@step
async def inspect_values(ctx: Context, ev: StartEvent) -> StopEvent:
    ctx.set("config", {"retries": 3})
    ctx.set_bytes("image", b"\x89PNG\r\n")
    ctx.set("ratio", Fraction(1, 3))
    ctx.set_value("direct", StateValue.Json(["written", "as", "a", "StateValue"]))
    lines = [f"{key:7} {describe(ctx.get_value(key))}" for key in sorted(ctx.keys())]
    sv = ctx.get_value("image")
    assert sv is not None
    lines.append(f"image kind={sv.kind} is_bytes={sv.is_bytes()} tagged={sv.to_dict()}")
    return StopEvent(result=lines)


async def main() -> None:
    result = await Workflow("state-value-match", [inspect_values]).run()
    for line in result.result:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
