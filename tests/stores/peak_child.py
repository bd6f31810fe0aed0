"""Run by ``test_memory_peaks.py`` in a fresh process: the RSS high-water of a durable run.

    python peak_child.py URL MIB commit          # ctx.set_bytes of MIB MiB, committed
    python peak_child.py URL MIB fork RUN_ID     # fork_run from the commit that holds it

Prints ``RUN_ID EXTRA_BYTES``: the peak RSS above the RSS before the value existed.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys

from blazen import Context, Event, StartEvent, StopEvent, Workflow, step
from blazen.stores import open_store


class Made(Event):
    """The large value is in the context."""


SIZE = int(sys.argv[2]) * 1024 * 1024


@step
async def make(ctx: Context, ev: StartEvent) -> Made:
    ctx.set_bytes("big", os.urandom(SIZE))
    return Made()


@step
async def finish(ctx: Context, ev: Made) -> StopEvent:
    return StopEvent(result=len(ctx.get_bytes("big") or b""))


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in KiB (Linux), else ``None``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_now() -> int:
    """The current RSS in bytes (Linux), else the high-water so far."""
    kib = _status_kib("VmRSS")
    return peak() if kib is None else kib * 1024


def peak() -> int:
    """This process's RSS high-water mark in bytes.

    On Linux ``VmHWM``: ``getrusage``'s ``ru_maxrss`` also counts the memory of the parent at
    the ``fork`` that started this process (the kernel keeps it across ``exec``), so a big
    parent (a long pytest run) would inflate it.
    """
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


async def main(url: str, mode: str, run_id: str | None) -> None:
    store = open_store(url)
    wf = Workflow("peaks", [make, finish], store=store)
    await store.list_runs()  # connect and check the store before the baseline
    base = rss_now()
    if mode == "commit":
        handler = await wf.run_with_handler()
    else:
        assert run_id is not None
        handler = await wf.fork_run(run_id, 1)
    result = (await handler.result()).result
    extra = peak() - base
    await store.close()
    assert result == SIZE, result
    print(handler.run_id if run_id is None else run_id, extra)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None))
