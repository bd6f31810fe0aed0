"""The command line of bench_core.py: options, the run of the chosen workloads, the output."""

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import sys
from collections.abc import Callable
from pathlib import Path

from .base import CLOCKS, perf, set_bytes_keys, set_clock, set_kv, set_kv_scalar
from .blazen_flows import bz_bytes, bz_chain, bz_fan, bz_kv, bz_runs
from .blob import blob_child
from .measure import Config, Row
from .peer import HAVE_PEER
from .report import format_blob, format_main, format_notes, json_payload, versions
from .workloads import WORKLOADS

DESCRIPTION = "Core engine benchmark: blazen vs. a bare-asyncio floor vs. llama-index-workflows."
ISSUE_ROWS = "chain,fanout,fanout-build,runs,ctx,bytes"  # the engine rows of issue 7, at its sizes


def build_parser() -> argparse.ArgumentParser:
    """The options of bench_core.py (the ``--blob-*`` ones are for its child processes)."""
    ap = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed runs per cell (default 5; 3 with --quick)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="fan-out up to 10k, ctx up to 100k, 20 MB blob, 3 runs"
    )
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument(
        "--issue",
        action="store_true",
        help=f"only the rows of issue 7 at its sizes ({ISSUE_ROWS}; fan-out 10k, ctx 100k)",
    )
    ap.add_argument("--fan-ns", default="", help="fan-out sizes, e.g. 1000,10000")
    ap.add_argument("--kv-ns", default="", help="ctx workload sizes, e.g. 100000")
    ap.add_argument("--bytes-ns", default="", help="bytes workload sizes (default 10000)")
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall (default) or cpu: this process's CPU time, which ignores the time other "
        "processes hold the CPU (steadier on a busy machine; the core workloads never block)",
    )
    ap.add_argument(
        "--installed",
        action="store_true",
        help="benchmark the installed blazen (e.g. the Rust-core package), not <repo>/src",
    )
    ap.add_argument(
        "--hard-exit",
        action="store_true",
        help="leave with os._exit after flushing (the Rust-core package aborts at shutdown)",
    )
    ap.add_argument("--no-peer", action="store_true", help="do not run llama-index-workflows")
    ap.add_argument(
        "--peer-budget",
        type=float,
        default=None,
        help="stop timing the peer in a cell once its runs sum past this many "
        "seconds (default 8; 3 with --quick)",
    )
    ap.add_argument(
        "--peer-cap",
        type=float,
        default=None,
        help="skip or abort a peer run estimated or taking longer than this many "
        "seconds (default 20; 8 with --quick)",
    )
    ap.add_argument(
        "--profile",
        default="",
        help="also print a cProfile of one blazen run: chain,fanout,runs,ctx",
    )
    ap.add_argument("--json", default="", help="write the medians and raw times to this file")
    ap.add_argument("--blob-child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--blob-mode", default="time", help=argparse.SUPPRESS)
    ap.add_argument("--blob-bytes", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument(
        "--blob-mb", type=float, default=None, help="blob size in MB (default 100; 20 with --quick)"
    )
    return ap


def _default(value: float | None, quick: bool, quick_default: float, full_default: float) -> float:
    return value if value is not None else quick_default if quick else full_default


def make_config(args: argparse.Namespace) -> Config:
    """The run's Config from the options (``--quick`` picks smaller sizes and limits)."""
    cfg = Config(
        repeat=args.repeat or (3 if args.quick else 5),
        quick=args.quick,
        peer=HAVE_PEER and not args.no_peer,
        peer_budget=_default(args.peer_budget, args.quick, 3.0, 8.0),
        peer_cap=_default(args.peer_cap, args.quick, 8.0, 20.0),
    )
    if args.quick:
        cfg.fan_ns = (1_000, 10_000)
        cfg.kv_ns = (10_000, 100_000)
        cfg.blob_bytes = 20 * 1000 * 1000
    cfg.clock = args.clock
    if args.issue:
        cfg.fan_ns = (10_000,)
        cfg.kv_ns = (100_000,)
    for opt, attr in ((args.fan_ns, "fan_ns"), (args.kv_ns, "kv_ns"), (args.bytes_ns, "bytes_ns")):
        if opt:
            setattr(cfg, attr, tuple(int(x) for x in _names(opt)))
    if args.blob_mb:
        cfg.blob_bytes = int(args.blob_mb * 1_000_000)
    return cfg


def _names(csv: str) -> list[str]:
    return [w.strip() for w in csv.split(",") if w.strip()]


def profile_blazen(name: str, cfg: Config) -> str:
    """cProfile of one blazen run of ``name`` at its largest size (top 25 by tottime)."""
    calls: dict[str, Callable[[], float]] = {
        "chain": lambda: bz_chain(cfg.chain_hops),
        "fanout": lambda: bz_fan(cfg.fan_ns[-1]),
        "runs": lambda: bz_runs(cfg.runs),
        "ctx": lambda: bz_kv(cfg.kv_ns[-1]),
        "ctx-scalar": lambda: bz_kv(cfg.kv_ns[-1]),
        "bytes": lambda: bz_bytes(cfg.bytes_ns[-1]),
    }
    prepare = {"ctx": set_kv, "ctx-scalar": set_kv_scalar, "bytes": set_bytes_keys}
    if name not in calls:
        return f"(no profile for {name!r}; choose from {sorted(calls)})"
    sizes = {"ctx": cfg.kv_ns, "ctx-scalar": cfg.kv_ns, "bytes": cfg.bytes_ns}
    if name in prepare:
        prepare[name](sizes[name][-1])
    calls[name]()  # warm-up
    prof = cProfile.Profile()
    prof.enable()
    calls[name]()
    prof.disable()
    if name in prepare:
        prepare[name](0)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    return buf.getvalue()


def run_workloads(cfg: Config, only: list[str]) -> tuple[list[Row], list[list[str]]]:
    """Run each chosen workload (progress on stderr); the main rows and the blob table's."""
    rows: list[Row] = []
    mem_lines: list[list[str]] = []
    for name in only:
        t0 = perf()
        print(f"# running {name} ...", file=sys.stderr, flush=True)
        out = WORKLOADS[name](cfg)
        if name == "blob":
            out, mem_lines = out
        rows.extend(out)
        print(f"#   {name} done in {perf() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows, mem_lines


def print_header(cfg: Config) -> None:
    """Versions, machine, load average and settings: what the numbers depend on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"# bench_core: {versions()}")
    print(
        f"# {platform.platform()}, {os.cpu_count()} CPUs, load avg {load[0]:.2f}; "
        f"repeat={cfg.repeat}{' (quick)' if cfg.quick else ''}; clock {cfg.clock}; peer budget "
        f"{cfg.peer_budget:g} s/cell, cap {cfg.peer_cap:g} s/run; medians"
    )


def main(argv: list[str] | None = None) -> int:
    """Run bench_core.py with ``argv`` (default: the command line); the exit status."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.blob_child:
        blob_child(args.blob_child, args.blob_mode, args.blob_bytes, args.repeat or 5)
        return 0
    set_clock(args.clock)
    cfg = make_config(args)
    only = _names(args.only) or _names(ISSUE_ROWS if args.issue else ",".join(WORKLOADS))
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")

    t_start = perf()
    print_header(cfg)
    rows, mem_lines = run_workloads(cfg, only)
    print(f"\n{format_main(rows)}\n\n{format_notes(rows)}")
    if mem_lines:
        print(f"\n{format_blob(cfg, mem_lines)}")
    for name in _names(args.profile):
        print(f"\n## cProfile: one blazen {name} run (top 25 by tottime)")
        print(profile_blazen(name, cfg))
    if args.json:
        payload = {"versions": versions(), "rows": json_payload(rows)}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))
    print(f"\n# total {perf() - t_start:.0f} s", flush=True)
    if args.hard_exit:
        sys.stderr.flush()
        os._exit(0)
    return 0
