"""Before/after: the core rows of issue 7 on a git ref and on the working tree, alternated.

    python bench/compare.py REF [--rounds 5] [--repeat 3] [--clock wall|cpu]

``REF``'s ``src/`` is exported to a temporary directory; then, round by round, one
bench_core.py process measures it and one measures the working tree (same bench code,
``--installed`` with ``PYTHONPATH``), so both see the same machine load. Each process
reports blazen's cost over the floor it measured itself; the table shows the median over
rounds of those costs and of the rates. Use it to check an optimisation (or a run-loop
change) on a busy machine, where two separate runs are minutes and loads apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _common import fmt_rate, fmt_ratio, render_table  # noqa: E402


def export_src(ref: str, into: Path) -> Path:
    """``REF:src`` unpacked under ``into`` (``git archive``); the directory to import from."""
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as tf:
        tf.extractall(into, filter="data") if sys.version_info >= (3, 12) else tf.extractall(into)
    return into / "src"


def measure(src: Path, out: Path, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """One bench_core.py process on ``src``: row name -> (cost over floor, blazen rate)."""
    cmd = [sys.executable, str(HERE / "bench_core.py"), "--installed", "--issue", "--no-peer"]
    cmd += ["--repeat", str(args.repeat), "--clock", args.clock, "--json", str(out)]
    env = dict(os.environ, PYTHONPATH=str(src))
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    rows = json.loads(out.read_text())["rows"]
    return {
        r["name"]: (r["blazen"]["median"] / r["floor"]["median"], r["work"] / r["blazen"]["median"])
        for r in rows
        if r["unit"] != "ratio" and r["blazen"]["median"]
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("ref", help="the git ref to compare with (e.g. main, a commit)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per process and row")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {"before": {}, "after": {}}
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {"before": export_src(args.ref, Path(tmp)), "after": REPO / "src"}
        for i in range(args.rounds):
            for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
                got = measure(srcs[side], Path(tmp) / f"{side}.json", args)
                for name, cr in got.items():
                    runs[side].setdefault(name, []).append(cr)
            print(f"# round {i + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    lines = []
    for name, before in runs["before"].items():
        after = runs["after"].get(name, [])
        cb, ca = (
            statistics.median(c for c, _ in xs) if xs else float("nan") for xs in (before, after)
        )
        rb, ra = (
            statistics.median(r for _, r in xs) if xs else float("nan") for xs in (before, after)
        )
        lines.append([name, fmt_ratio(cb), fmt_ratio(ca), fmt_rate(rb), fmt_rate(ra)])
    print(f"\n# {args.ref} (before) vs working tree (after): medians over {args.rounds} rounds")
    print(f"# of per-process medians of {args.repeat}; clock {args.clock}\n")
    headers = ["row", "cost before", "cost after", "rate before", "rate after"]
    print(render_table(headers, lines, "lrrrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
