"""The seven workloads: each measures its sizes and returns its rows of the main table."""

import math
from collections.abc import Callable
from typing import Any

from _common import Samples, fmt_rate

from .base import set_bytes_keys, set_kv, set_kv_scalar
from .blazen_flows import bz_bytes, bz_chain, bz_fan, bz_fan_build, bz_kv, bz_runs
from .blob import bench_blob
from .floor import (
    floor_bytes,
    floor_chain,
    floor_fan,
    floor_fan_build,
    floor_kv,
    floor_kv_copy,
    floor_runs,
)
from .measure import Config, Measured, Row, measure
from .peer import PEER
from .report import size_label

FLAT_THRESHOLD = 0.7  # the rate at the largest N must keep this much of the best rate


def _rate_target(minimum: float) -> Callable[[Row], bool | None]:
    def ok(row: Row) -> bool | None:
        r = row.rate(row.blazen)
        return None if math.isnan(r) else r >= minimum

    return ok


def _rate_rows(
    name: str,
    num: str,
    workload: str,
    unit: str,
    measured: list[Measured],
    minimum: float,
    per_n: int = 1,
) -> list[Row]:
    """Throughput rows (``per_n`` units of work per size unit), targeted at ``minimum``/s."""
    target = f">= {fmt_rate(minimum)} {unit}"
    ok = _rate_target(minimum)
    return [
        Row(num, workload, size_label(n), unit, per_n * n, f, b, p, target, ok, name=name)
        for n, f, b, p in measured
    ]


def _flatness_row(num: str, workload: str, rows: list[Row]) -> Row:
    """Rate at the largest N / best rate over N, for blazen and for the floor. Met when
    blazen keeps ``FLAT_THRESHOLD`` of its best rate, allowing for what the floor itself
    loses at large N (a plain dict slows down once it outgrows the CPU caches)."""

    def ratio(which: str) -> float:
        rates = [r.rate(getattr(r, which)) for r in rows]
        best = max(rates)
        return rates[-1] / best if best > 0 else math.nan

    bz_ratio, floor_ratio = ratio("blazen"), ratio("floor")
    allowed = FLAT_THRESHOLD * (1.0 if math.isnan(floor_ratio) else min(1.0, floor_ratio))
    target = f">= {FLAT_THRESHOLD:g} x floor's"
    size = f"{rows[-1].size} vs best"
    row = Row(num, workload, size, "ratio", 0, Samples(), Samples(), Samples(), target)
    row.extra.update(flat=bz_ratio, floor_flat=floor_ratio, flat_detail=_per_unit(rows))
    row.target_ok = lambda _row: None if math.isnan(bz_ratio) else bz_ratio >= allowed
    return row


def _per_unit(rows: list[Row]) -> str:
    """Blazen's rate and its cost over the floor per unit of work, at each N."""
    detail = []
    for r in rows:
        per_op = (r.blazen.median - r.floor.median) / r.work * 1e9 if r.work else math.nan
        detail.append(f"{r.size}: {fmt_rate(r.rate(r.blazen))}/s, +{per_op:.0f} ns/unit over floor")
    return "; ".join(detail)


def _with_flatness(num: str, workload: str, rows: list[Row]) -> list[Row]:
    """``rows`` plus their flatness row when there is more than one size."""
    return [*rows, _flatness_row(num, workload, rows)] if len(rows) > 1 else rows


def bench_chain(cfg: Config) -> list[Row]:
    """Workload 1: a 10k-hop chain, one step re-emitting its own event."""
    peer = PEER.peer_chain if PEER else None
    measured = measure(cfg, (cfg.chain_hops,), floor_chain, bz_chain, peer, warm_n=500)
    return _rate_rows("chain", "1", "chain (1 step re-emits)", "hops/s", measured, 60_000)


def bench_fanout(cfg: Config) -> list[Row]:
    """Workload 2: fan-out of N events to one worker step, which should be linear in N."""
    peer = PEER.peer_fan if PEER else None
    measured = measure(cfg, cfg.fan_ns, floor_fan, bz_fan, peer, warm_n=200)
    rows = _rate_rows("fanout", "2", "fan-out (list of N events)", "events/s", measured, 100_000)
    return _with_flatness("2", "fan-out: linear in N", rows)


def bench_fanout_build(cfg: Config) -> list[Row]:
    """Workload 2b: only building the N events of the fan-out (the user's code in its start
    step): pydantic ``Item(i=i)`` against the floor's ``__slots__`` object. Information: it
    tells the events' share of workload 2 from the engine's."""
    measured = measure(cfg, cfg.fan_ns, floor_fan_build, bz_fan_build, None, warm_n=200)
    label = "fan-out: building the N events alone"
    info = "(information)"
    return [
        Row("2b", label, size_label(n), "events/s", n, f, b, p, info, name="fanout-build")
        for n, f, b, p in measured
    ]


def bench_runs(cfg: Config) -> list[Row]:
    """Workload 3: 1,000 concurrent runs of a 3-step workflow."""
    peer = PEER.peer_runs if PEER else None
    measured = measure(cfg, (cfg.runs,), floor_runs, bz_runs, peer, warm_n=100)
    return _rate_rows("runs", "3", "concurrent 3-step runs", "runs/s", measured, 15_000)


def bench_ctx(cfg: Config) -> list[Row]:
    """Workload 4: N ctx.set then N ctx.get of small dicts in one step, flat in N."""
    peer = PEER.peer_kv if PEER else None
    measured = measure(cfg, cfg.kv_ns, floor_kv_copy, bz_kv, peer, warm_n=10_000, prepare=set_kv)
    label = 'ctx.set + ctx.get, {"i": i, "v": "x"}'
    rows = _rate_rows("ctx", "4", label, "ops/s", measured, 1_500_000, per_n=2)
    return _with_flatness("4", "ctx ops (dict values): flat in N", rows)


def bench_ctx_scalar(cfg: Config) -> list[Row]:
    """Workload 5: N ctx.set then N ctx.get of ints and strs in one step, flat in N."""
    peer = PEER.peer_kv if PEER else None
    prepare = set_kv_scalar
    measured = measure(cfg, cfg.kv_ns, floor_kv, bz_kv, peer, warm_n=10_000, prepare=prepare)
    label = "ctx.set + ctx.get, int or str"
    rows = _rate_rows("ctx-scalar", "5", label, "ops/s", measured, 1_500_000, per_n=2)
    return _with_flatness("5", "ctx ops (scalars): flat in N", rows)


def bench_bytes(cfg: Config) -> list[Row]:
    """Workload 6: N ctx.set_bytes then N ctx.get_bytes of one 100 MB value (no copies)."""
    measured = measure(
        cfg, cfg.bytes_ns, floor_bytes, bz_bytes, None, warm_n=100, prepare=set_bytes_keys
    )
    label = "ctx.set_bytes + get_bytes, 100 MB"
    return _rate_rows("bytes", "6", label, "ops/s", measured, 1_500_000, per_n=2)


WORKLOADS: dict[str, Callable[[Config], Any]] = {
    "chain": bench_chain,
    "fanout": bench_fanout,
    "fanout-build": bench_fanout_build,
    "runs": bench_runs,
    "ctx": bench_ctx,
    "ctx-scalar": bench_ctx_scalar,
    "bytes": bench_bytes,
    "blob": bench_blob,
}
