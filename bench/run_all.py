"""Run the benchmarks of issue 7 and print one table: each row beside its floor.

    python bench/run_all.py            # the issue-7 rows, medians of 5 (a few minutes)
    python bench/run_all.py --quick    # 3 repeats, for a smoke run
    python bench/run_all.py --all      # also the store benchmark and the full core tables
    python bench/run_all.py --peers    # also the peers on Python 3.13 (bench/peers.py)

Each script runs in its own process and prints its own table (floor and blazen measured
interleaved in that process); the summary at the end takes the medians from their JSON.
Cost = blazen's median time / the floor's median time for the same work (lower is better).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import fmt_rate, fmt_ratio, fmt_secs, render_table  # noqa: E402
from targets import TARGETS, Target  # noqa: E402

HEADERS = ["workload", "unit", "blazen", "floor", "cost (time / floor)", "target", "met"]


def _run(script: str, args: list[str]) -> bool:
    """Run ``bench/<script>`` with ``args`` in a fresh interpreter; whether it succeeded."""
    print(f"\n# {script} {' '.join(args)}\n", flush=True)
    cmd = [sys.executable, str(HERE / script), *args]
    return subprocess.run(cmd, check=False).returncode == 0


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _core_rows(data: Any) -> dict[str, tuple[float, float, int, str]]:
    """bench_core's rows by name: (blazen median s, floor median s, work per run, size)."""
    out = {}
    for r in (data or {}).get("rows", []):
        if r["unit"] == "ratio" or r["blazen"]["median"] is None:
            continue
        out.setdefault(
            r["name"], (r["blazen"]["median"], r["floor"]["median"], r["work"], r["size"])
        )
    return out


def _line(t: Target, blazen_s: float, floor_s: float, work: int) -> list[str]:
    """One summary line: rates (or times when ``work`` is 0), cost, target, verdict."""
    cost = blazen_s / floor_s
    if work:
        cells = [fmt_rate(work / blazen_s), fmt_rate(work / floor_s)]
    else:
        cells = [fmt_secs(blazen_s), fmt_secs(floor_s)]
    met = t.met(cost, work / blazen_s if work else None)
    verdict = "-" if met is None else "yes" if met else "NO"
    return [t.label, t.unit, *cells, fmt_ratio(cost), t.text or "(information)", verdict]


def summary(core: Any, snap: Any, durable: Any, otel: Any = None) -> list[list[str]]:
    """The lines of the summary table, in the order of issues 7 and 8 (missing results
    skipped)."""
    rows = _core_rows(core)
    snap_rows = {r["what"]: r for r in (snap or {}).get("rows", [])}
    otel_rows = {r["what"]: r for r in (otel or {}).get("rows", [])}
    lines = []
    for t in TARGETS:
        if t.source == "core" and t.key in rows and (t.minus is None or t.minus in rows):
            b, f, work, _size = rows[t.key]
            if t.minus is not None:
                b, f = b - rows[t.minus][0], f - rows[t.minus][1]
            lines.append(_line(t, b, f, work))
        elif t.source == "snapshot" and t.key in snap_rows:
            r = snap_rows[t.key]
            lines.append(_line(t, r["blazen"], r["floor"], 0))
        elif t.source == "durable" and durable:
            per_hop = durable["per_hop"]
            lines.append(_line(t, per_hop["sqlite"], per_hop["floor"], 1))
        elif t.source == "otel" and t.key in otel_rows:
            r = otel_rows[t.key]
            lines.append(_line(t, r["seconds"], r["untraced"], r["hops"]))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    parser.add_argument("--all", action="store_true", help="also bench_store and full bench_core")
    parser.add_argument("--peers", action="store_true", help="also run bench/peers.py (chroot)")
    args = parser.parse_args()
    rep = "3" if args.quick else "5"
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        jobs: list[tuple[str, list[str]]] = [
            ("bench_core.py", ["--issue", "--no-peer", "--repeat", rep, "--json", f"{tmp}/core"]),
            ("bench_snapshot.py", ["--repeats", rep, "--json", f"{tmp}/snap"]),
            ("bench_durable.py", ["--repeat", rep, "--chain-only", "--json", f"{tmp}/dur"]),
            (
                "bench_otel.py",
                ["--repeat", str(2 * int(rep)), "--clock", "cpu", "--json", f"{tmp}/otel"],
            ),
        ]
        if args.all:
            jobs += [("bench_core.py", ["--repeat", rep]), ("bench_store.py", ["--rounds", rep])]
        if args.peers:
            jobs.append(("peers.py", ["--repeat", rep]))
        for script, script_args in jobs:
            if not _run(script, script_args):
                failed.append(script)
        otel = _load(out / "otel")
        lines = summary(_load(out / "core"), _load(out / "snap"), _load(out / "dur"), otel)
    print(f"\n# issues 7 and 8 summary: python {platform.python_version()}, medians of {rep}\n")
    print(render_table(HEADERS, lines, "llrrrll"))
    print(NOTE)
    if otel and otel.get("skipped"):
        print(f"\ntracing rows skipped: {otel['skipped']}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


NOTE = """
floors: fan-out, runs, chain = a hand-written asyncio dispatcher (one asyncio.Queue, a dict
event class -> coroutine, handlers awaited inline); Context = a dict with a copy of the value
on set and on get (d[k] = v.copy() / d[k].copy()); bytes = a dict holding the same bytes
object; snapshot = pickle protocol 5 of the same data; durable = a bare sqlite3 loop doing one
upsert transaction per hop (WAL, synchronous=NORMAL); tracing rows = the same blazen chain
untraced (OpenTelemetry's adapter not loaded), timed by CPU clock, medians of twice the
repeats. See bench/README.md."""

if __name__ == "__main__":
    raise SystemExit(main())
