"""Binary data: ``ctx.set_bytes`` / ``ctx.get_bytes`` keep bytes as they are, without a copy."""

import asyncio
import hashlib
import zlib

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step


class Compressed(Event):
    key: str


@step
async def compress(ctx: Context, ev: StartEvent) -> Compressed:
    raw = ev.text.encode() * 1000
    packed = zlib.compress(raw)
    ctx.set_bytes("packed", packed)
    assert ctx.get_bytes("packed") is packed  # stored without copying
    ctx.set("sha256", hashlib.sha256(raw).hexdigest())
    return Compressed(key="packed")


@step
async def check(ctx: Context, ev: Compressed) -> StopEvent:
    packed = ctx.get_bytes(ev.key)
    assert packed is not None
    raw = zlib.decompress(packed)
    ok = hashlib.sha256(raw).hexdigest() == ctx.get("sha256")
    return StopEvent(result=(len(raw), len(packed), ok))


async def main() -> None:
    result = await Workflow("binary", [compress, check]).run(text="blazen ")
    raw_len, packed_len, ok = result.result
    print(f"raw: {raw_len} bytes, stored: {packed_len} bytes, checksum ok: {ok}")


if __name__ == "__main__":
    asyncio.run(main())
