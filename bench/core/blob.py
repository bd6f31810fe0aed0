"""Workload 7: a large bytes value through the context, timed and memory-measured in children.

Each variant runs in fresh subprocesses of bench_core.py (``--blob-child``), one for the
timings and one for the memory, so peaks of different variants never mix.
"""

import gc
import json
import os
import resource
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from _common import Samples, fmt_ratio, fmt_secs

from .base import ENTRY, SRC
from .blazen_flows import BZ_BLOB_BYTES, BZ_BLOB_SET, bz_blob
from .floor import blob_copy2
from .measure import Config, Row
from .peer import PEER
from .report import fmt_mb

BLOB_VARIANTS: dict[str, tuple[str, Callable[[int], float] | None]] = {
    "copy2": ("reference: 2 copies, bytes(bytearray(b))", blob_copy2),
    "bz_bytes": ("blazen ctx.set_bytes + ctx.get_bytes", bz_blob(BZ_BLOB_BYTES)),
    "bz_set": ("blazen ctx.set + ctx.get", bz_blob(BZ_BLOB_SET)),
    "llama": ("llama ctx.store.set + ctx.store.get", PEER.peer_blob if PEER else None),
}
ROW_LABELS = {"bz_bytes": "set_bytes+get_bytes", "bz_set": "set+get (bytes)"}
TARGET = "<= 2 copies; peak <= 1.1x"
UNJUDGED = {"copy2": "(reference)", "llama": "(peer)"}  # variants shown without a target


def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss_peak() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _peaks(fn: Callable[[int], float], size: int) -> dict[str, Any]:
    """Tracemalloc peak and peak RSS added by one run (1.0x = the blob itself only)."""
    gc.collect()
    reset = _reset_rss_peak()
    rss0 = _rss_now()
    hwm0 = _rss_peak()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn(size)  # the blob is made inside the measured region
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    rss_added = _rss_peak() - (rss0 if reset else hwm0)
    return {"peak": peak, "rss": rss_added, "rss_reset": reset}


def blob_child(variant: str, mode: str, size: int, repeat: int) -> None:
    """Measure one blob variant in this (fresh) process; print one JSON line."""
    fn = BLOB_VARIANTS[variant][1]
    assert fn is not None
    fn(1 << 20)  # warm-up: code paths
    if mode != "time":
        print(json.dumps(_peaks(fn, size)))
        return
    fn(size)  # warm-up at full size
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(fn(size))
    print(json.dumps({"times": times}))


def run_blob_child(variant: str, mode: str, size: int, repeat: int) -> dict[str, Any]:
    """Run ``blob_child`` in a fresh interpreter and return the JSON it printed."""
    cmd = [sys.executable, str(ENTRY), "--blob-child", variant, "--blob-mode", mode]
    cmd += ["--blob-bytes", str(size), "--repeat", str(repeat)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"blob child {variant}/{mode} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _blob_ok(t: float, ref_t: float, peak: float, size: int) -> bool:
    """The blob target: no slower than two copies, peak memory within 1.1x the blob."""
    return t <= ref_t and peak <= 1.1 * size


def _main_row(v: str, size: int, timing: dict[str, Samples], peak: float) -> Row:
    """The main-table row of blazen variant ``v`` (times against the two-copy reference)."""
    peer_t = timing.get("llama", Samples(skipped=True, note="peer not run"))

    def ok(row: Row) -> bool | None:
        return _blob_ok(row.blazen.median, row.floor.median, peak, size)

    label = f"blob {ROW_LABELS[v]}"
    floor = timing["copy2"]
    return Row("7", label, fmt_mb(size), "s", 0, floor, timing[v], peer_t, TARGET, ok, name="blob")


def _mem_line(v: str, size: int, t: float, ref_t: float, m: dict[str, Any]) -> list[str]:
    """One line of the blob table: variant, times, peaks, target and whether it is met."""
    peak_ratio = m["peak"] / size
    if v in UNJUDGED:
        target, met = UNJUDGED[v], ""
    else:
        target, met = TARGET, "yes" if _blob_ok(t, ref_t, m["peak"], size) else "NO"
    rss = f"{fmt_mb(m['rss'])} ({m['rss'] / size:.2f}x)" + ("" if m["rss_reset"] else "*")
    return [
        BLOB_VARIANTS[v][0],
        fmt_secs(t),
        fmt_ratio(t / ref_t),
        fmt_mb(m["peak"]),
        f"{peak_ratio:.3f}x",
        rss,
        target,
        met,
    ]


def bench_blob(cfg: Config) -> tuple[list[Row], list[list[str]]]:
    """Workload 7: the main-table rows, and the lines of the blob's own table."""
    size = cfg.blob_bytes
    variants = ["copy2", "bz_bytes", "bz_set"] + (["llama"] if cfg.peer else [])
    timing: dict[str, Samples] = {}
    mem: dict[str, dict[str, Any]] = {}
    for v in variants:
        timing[v] = Samples(times=run_blob_child(v, "time", size, cfg.repeat)["times"])
        mem[v] = run_blob_child(v, "mem", size, 1)
    rows = [_main_row(v, size, timing, mem[v]["peak"]) for v in ("bz_bytes", "bz_set")]
    ref_t = timing["copy2"].median
    lines = [_mem_line(v, size, timing[v].median, ref_t, mem[v]) for v in variants]
    return rows, lines
