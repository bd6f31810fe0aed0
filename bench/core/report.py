"""Rendering the results: the main table, the notes under it, the blob table, and JSON."""

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import Samples, fmt_rate, fmt_ratio, fmt_secs, render_table

import blazen as bz

from .measure import Config, Row

MAIN_HEADERS = [
    "#",
    "workload",
    "N",
    "unit",
    "floor",
    "blazen",
    "llama",
    "bz/floor (time)",
    "bz/llama (time)",
    "target",
    "met",
]
BLOB_HEADERS = [
    "variant",
    "time (median)",
    "time / 2 copies",
    "tracemalloc peak",
    "peak / size",
    "peak RSS added",
    "target",
    "met",
]
CELLS_NOTE = (
    "Cells: median throughput in `unit` (time for blob rows); ratio columns are median "
    "TIME ratios (lower = blazen faster). '[k runs]' = fewer runs (peer time budget)."
)
FLOOR_NOTE = (
    "floor: 1-3 = hand-written asyncio dispatcher (one asyncio.Queue, dict "
    "event class -> coroutine, __slots__ events, dict state; 3 = one task per run, "
    "gathered); 4 = dict with value semantics by hand, d[k] = v.copy() / d[k].copy(); "
    "5, 6 = plain dict d[k] = v / d[k]; 7 = two copies, bytes(bytearray(b))."
)
PEAK_NOTE = (
    "peak = allocations from just before the blob is made to the end of the run, "
    "so 1.00x = the blob itself and no copy."
)


def fmt_mb(n: float) -> str:
    """Bytes as decimal megabytes, ``"20.0 MB"`` (the blob sizes are round in MB)."""
    return f"{n / 1e6:.1f} MB"


def size_label(n: int) -> str:
    """A workload size for the N column: ``10000`` -> ``"10k"``, ``1000000`` -> ``"1M"``."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def versions() -> str:
    """Python, blazen (with where it was imported from), the peer and pydantic versions."""
    parts = [
        f"python {platform.python_version()}",
        f"blazen {bz.__version__} ({Path(bz.__file__).parent})",
    ]
    for dist in ("llama-index-workflows", "pydantic"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


def _cell(row: Row, s: Samples) -> str:
    if s.skipped or not s.times:
        return s.note or "-"
    txt = fmt_secs(s.median) if row.unit == "s" else fmt_rate(row.rate(s))
    if s.note:
        txt += f" [{len(s.times)} run{'s' if len(s.times) > 1 else ''}]"
    return txt


def _ratio(a: Samples, b: Samples) -> str:
    if not a.times or not b.times:
        return "-"
    return fmt_ratio(a.median / b.median)


def _line(r: Row) -> list[str]:
    """One line of the main table (a flatness row shows its two ratios instead of rates)."""
    ok = r.met()
    met = "-" if ok is None else ("yes" if ok else "NO")
    if r.unit == "ratio":
        flat = [f"{r.extra['floor_flat']:.2f}", f"{r.extra['flat']:.2f}", "", "", ""]
        return [r.num, r.workload, r.size, r.unit, *flat, r.target, met]
    cells = [_cell(r, r.floor), _cell(r, r.blazen), _cell(r, r.peer)]
    ratios = [_ratio(r.blazen, r.floor), _ratio(r.blazen, r.peer)]
    return [r.num, r.workload, r.size, r.unit, *cells, *ratios, r.target, met]


def format_main(rows: list[Row]) -> str:
    """The main table: one line per workload and size, with targets."""
    return render_table(MAIN_HEADERS, [_line(r) for r in rows], "llrlrrrrrll")


def format_notes(rows: list[Row]) -> str:
    """The legend under the main table, with the detail of each flatness row."""
    lines = [CELLS_NOTE]
    for r in rows:
        if r.unit == "ratio":
            lines.append(
                f"{r.workload}: rate at largest N / best rate over N = {r.extra['flat']:.2f} "
                f"(floor {r.extra['floor_flat']:.2f}); {r.extra['flat_detail']}"
            )
    lines.append(FLOOR_NOTE)
    return "\n".join(lines)


def format_blob(cfg: Config, mem_lines: list[list[str]]) -> str:
    """The blob workload's own table (time and memory per variant), with its header."""
    head = (
        f"7. {fmt_mb(cfg.blob_bytes)} ({cfg.blob_bytes:,} B) blob, "
        "each line measured in fresh subprocesses (one for time, one for memory):"
    )
    return "\n".join([head, render_table(BLOB_HEADERS, mem_lines, "lrrrrrll"), PEAK_NOTE])


def _samples_json(s: Samples) -> dict[str, Any]:
    return {"median": s.median if s.times else None, "times": s.times, "note": s.note}


def json_payload(rows: list[Row]) -> list[dict[str, Any]]:
    """The rows for ``--json``: sizes, targets, and each contender's median and raw times."""
    payload = []
    for r in rows:
        item: dict[str, Any] = {
            "num": r.num,
            "workload": r.workload,
            "size": r.size,
            "unit": r.unit,
            "work": r.work,
            "name": r.name,
            "target": r.target,
            "met": r.met(),
        }
        for key, s in (("floor", r.floor), ("blazen", r.blazen), ("llama", r.peer)):
            item[key] = _samples_json(s)
        if "flat" in r.extra:
            item["flat"] = r.extra["flat"]
        payload.append(item)
    return payload
