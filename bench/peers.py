"""The engine rows of issue 7 on Python 3.13: blazen beside the Rust-core package and
llama-index-workflows, each with the floor measured in its own interleaved run.

    python bench/peers.py [--repeat 5] [--tool /work/shared/tools/rust-peer]

The peers' wheels need a newer glibc, so they live in a chroot with Python 3.13 (see
``rust-peer``). This script runs the same workload script, bench/bench_core.py, twice
in it: once on this working tree (``PYTHONPATH=src``; llama-index-workflows runs there
as the peer column) and once on the installed Rust-core ``blazen`` (``--installed``).
Each process measures its contenders and the floor interleaved, round by round; every
cost is a contender's median time over the floor's median time in the same process.
Not in CI: it needs the chroot (the main table, run_all.py, does not).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _common import fmt_rate, fmt_ratio, render_table  # noqa: E402

TOOL = os.environ.get("BLAZEN_RUST_PEER", "/work/shared/tools/rust-peer")
# fan-out and ctx also at a smaller size: llama-index-workflows grows faster than linearly
# there, and bench_core skips its larger sizes from the estimate at the smaller one
SIZES = ["--fan-ns", "1000,10000", "--kv-ns", "10000,100000"]
RUST_BYTES_NS = "2"  # the Rust-core package copies a 100 MB value on each set and get
HEADERS = [
    "workload",
    "N",
    "unit",
    "floor",
    "blazen",
    "cost",
    "Rust-core",
    "cost",
    "llama",
    "cost",
    "blazen vs Rust-core",
]


def run_core(tool: str, out: Path, repeat: int, rust: bool) -> dict[str, Any]:
    """Run bench_core.py in the chroot (this tree, or the Rust-core package); its JSON."""
    args = ["--issue", *SIZES, "--repeat", str(repeat), "--json", str(out), "--hard-exit"]
    env = dict(os.environ)
    if rust:
        args += ["--installed", "--no-peer", "--bytes-ns", RUST_BYTES_NS]
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = str(REPO / "src")
    cmd = [tool, "python", str(HERE / "bench_core.py"), *args]
    print(f"# {'Rust-core' if rust else 'blazen'}: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, cwd=REPO, env=env)
    return dict(json.loads(out.read_text()))


def _rows(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["size"]): r for r in data["rows"] if r["unit"] != "ratio"}


def _rate(row: dict[str, Any] | None, who: str) -> float | None:
    m = row[who]["median"] if row else None
    return row["work"] / m if row and m else None


def _cost(row: dict[str, Any] | None, who: str) -> str:
    if not row or not row[who]["median"] or not row["floor"]["median"]:
        return "-" if not row else (row[who]["note"] or "-")
    return fmt_ratio(row[who]["median"] / row["floor"]["median"])


def table(ours: dict[str, Any], rust: dict[str, Any]) -> str:
    """One line per workload and size: floor, blazen, Rust-core, llama, and their costs."""
    a, b = _rows(ours), _rows(rust)
    lines = []
    for key, r in a.items():
        rc = b.get(key) or next((v for k, v in b.items() if k[0] == key[0]), None)
        bz, rcr, ll = _rate(r, "blazen"), _rate(rc, "blazen"), _rate(r, "llama")
        lines.append(
            [
                r["workload"],
                r["size"]
                + ("" if rc is None or rc["size"] == r["size"] else f" (RC {rc['size']})"),
                r["unit"],
                fmt_rate(_rate(r, "floor")),
                fmt_rate(bz),
                _cost(r, "blazen"),
                fmt_rate(rcr),
                _cost(rc, "blazen"),
                fmt_rate(ll) if ll else (r["llama"]["note"] or "-"),
                _cost(r, "llama") if ll else "-",
                fmt_ratio(bz / rcr) + " faster" if bz and rcr else "-",
            ]
        )
    return render_table(HEADERS, lines, "lllrrrrrrrr")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tool", default=TOOL, help="the rust-peer script (chroot runner)")
    args = parser.parse_args()
    if not Path(args.tool).exists():
        print(f"peers.py needs the chroot runner {args.tool} (see its header)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix=".peers-", dir=REPO))  # visible inside the chroot
    try:
        ours = run_core(args.tool, tmp / "ours.json", args.repeat, rust=False)
        rust = run_core(args.tool, tmp / "rust.json", args.repeat, rust=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n# peers on Python 3.13, medians of {args.repeat}")
    print(f"# this tree: {ours['versions']}\n# Rust-core: {rust['versions']}\n")
    print(table(ours, rust))
    print(
        "\ncost = median time / the floor's median time in the same process (the two processes"
        "\nmeasure their own floor); 'blazen vs Rust-core' = ratio of throughputs."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
