"""Snapshot speed and size against the floor: pickle protocol 5 of the same Python data.

    python bench/bench_snapshot.py [--blob-mb 100] [--keys 1000] [--repeats 7] [--check]

Builds a run state of one large ``bytes`` blob plus many small JSON values, then times
``WorkflowSnapshot.to_bytes``/``from_bytes`` and ``pickle.dumps(protocol=5)``/``pickle.loads``
of the same data in the same process, and prints medians and ratios. Targets: size at
most 1.01x the blob, time at most 1.2x pickle; ``--check`` exits 1 when one is missed.
Peak memory is about five blobs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import blazen  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from blazen.snapshot import WorkflowSnapshot
from blazen.values import StateValue, to_state_value

TIME_TARGET = 1.2  # issue 7
SIZE_TARGET = 1.01


def make_state(blob_mb: int, keys: int) -> dict[str, Any]:
    """The run's Python data: one random blob and ``keys`` small JSON values."""
    state: dict[str, Any] = {"blob": os.urandom(blob_mb * 1024 * 1024)}
    for i in range(keys):
        state[f"key-{i:04d}"] = {"i": i, "name": f"user-{i}", "score": i / 7, "tags": ["a", "b"]}
    return state


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def paired_medians(
    ours: Callable[[], Any], floor: Callable[[], Any], repeats: int
) -> tuple[float, float]:
    """Median times of ``ours()`` and ``floor()``, interleaved so both see the same machine load."""
    a: list[float] = []
    b: list[float] = []
    for i in range(repeats):
        if i % 2:
            b.append(_timed(floor))
            a.append(_timed(ours))
        else:
            a.append(_timed(ours))
            b.append(_timed(floor))
    return statistics.median(a), statistics.median(b)


Row = tuple[str, float, float, float | None]
"""(what, blazen, pickle floor, target for the ratio or None)."""


def run(blob_mb: int, keys: int, repeats: int) -> list[Row]:
    """Measure everything once; unsigned rows have targets, signed rows are for information."""
    raw = make_state(blob_mb, keys)
    context: dict[str, StateValue] = {}
    for k, v in raw.items():
        value = to_state_value(v)
        assert value is not None
        context[k] = value
    snap = WorkflowSnapshot.new("bench", "run-0", context_state=context)
    data, floor = snap.to_bytes(), pickle.dumps(raw, protocol=5)
    assert WorkflowSnapshot.from_bytes(data) == snap
    key = b"bench-key"
    signed = snap.to_bytes(key=key)
    blob = len(raw["blob"])

    def dump_floor() -> bytes:
        return pickle.dumps(raw, protocol=5)

    def load_floor() -> Any:
        return pickle.loads(floor)

    dump = paired_medians(snap.to_bytes, dump_floor, repeats)
    restore = paired_medians(lambda: WorkflowSnapshot.from_bytes(data), load_floor, repeats)
    dump_signed = paired_medians(lambda: snap.to_bytes(key=key), dump_floor, repeats)
    restore_signed = paired_medians(
        lambda: WorkflowSnapshot.from_bytes(signed, key=key), load_floor, repeats
    )
    return [
        ("serialize (s)", *dump, TIME_TARGET),
        ("restore (s)", *restore, TIME_TARGET),
        ("size (MB)", len(data) / 1e6, len(floor) / 1e6, None),
        ("size / blob size", len(data) / blob, len(floor) / blob, None),
        ("serialize signed (s)", *dump_signed, None),
        ("restore signed (s)", *restore_signed, None),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the table; with ``--check``, return 1 when a target is missed."""
    parser = argparse.ArgumentParser(description="Snapshot speed and size vs pickle protocol 5.")
    parser.add_argument("--blob-mb", type=int, default=100, help="blob size in MiB (default 100)")
    parser.add_argument("--keys", type=int, default=1000, help="small keys (default 1000)")
    parser.add_argument("--repeats", type=int, default=7, help="runs per median (default 7)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", default="", help="also write the rows to this file")
    args = parser.parse_args(argv)
    os.environ.pop("BLAZEN_SNAPSHOT_KEY", None)  # the unsigned rows must stay unsigned
    rows = run(args.blob_mb, args.keys, args.repeats)
    print(f"WorkflowSnapshot (MessagePack) of a {args.blob_mb} MiB blob + {args.keys} small keys")
    print(f"vs pickle.dumps/loads(protocol=5) of the same data; median of {args.repeats} runs\n")
    print(f"{'':22} {'blazen':>10} {'pickle p5':>10} {'ratio':>7}  target")
    missed = False
    for name, ours, floor, target in rows:
        ratio = ours / floor
        verdict = ""
        if target is not None:
            verdict = f"<= {target}x " + ("ok" if ratio <= target else "MISSED")
            missed |= ratio > target
        if name.startswith("size / blob"):
            verdict = f"<= {SIZE_TARGET}x blob " + ("ok" if ours <= SIZE_TARGET else "MISSED")
            missed |= ours > SIZE_TARGET
        print(f"{name:22} {ours:10.4f} {floor:10.4f} {ratio:7.3f}  {verdict}")
    if args.json:
        keys = ("what", "blazen", "floor", "target")
        payload = {"blob_mb": args.blob_mb, "rows": [dict(zip(keys, r, strict=True)) for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
