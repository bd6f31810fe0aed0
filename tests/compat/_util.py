"""Helpers of the compat suite; they use only names both packages export."""

from __future__ import annotations

import asyncio
from typing import Any

import blazen

# Where the Rust-core package raises a bare TypeError/ValueError/OverflowError for a bad
# argument, blazen may raise its own validation error (a WorkflowError) instead.
VALIDATION: tuple[type[Exception], ...] = tuple(
    getattr(blazen, name) for name in ("WorkflowValidationError",) if hasattr(blazen, name)
)


async def payload(wf: Any, **kwargs: Any) -> Any:
    """Run ``wf`` through a handler and return the StopEvent's result."""
    handler = await wf.run_with_handler(**kwargs)
    return (await handler.result()).result


async def snapshot_json(handler: Any) -> str:
    """``handler.snapshot()`` as JSON text (a str in the Rust-core package)."""
    snap = await handler.snapshot()
    return snap if isinstance(snap, str) else snap.to_json()


async def until_snapshot_mentions(handler: Any, text: str, tries: int = 10_000) -> str:
    """Take snapshots until one contains ``text`` (e.g. an input request id); no sleeps."""
    for _ in range(tries):
        js = await snapshot_json(handler)
        if text in js:
            return js
        await asyncio.sleep(0)
    raise AssertionError(f"no snapshot mentioned {text!r}")
