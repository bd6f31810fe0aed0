"""Timing one workload over its sizes: warm-up, interleaved rounds, and the peer's limits."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _common import Samples, extrapolate, fmt_secs, run_rounds


@dataclass
class Config:
    """What to run: repeats, whether the peer runs and its limits, and the sizes."""

    repeat: int
    quick: bool
    peer: bool
    peer_budget: float
    peer_cap: float
    chain_hops: int = 10_000
    fan_ns: tuple[int, ...] = (1_000, 10_000, 100_000)
    runs: int = 1_000
    kv_ns: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    bytes_ns: tuple[int, ...] = (10_000,)
    clock: str = "wall"  # or "cpu" (--clock)
    blob_bytes: int = 100 * 1000 * 1000


@dataclass
class Row:
    """One line of the main table: a workload at one size, with each contender's runs."""

    num: str
    workload: str
    size: str
    unit: str  # "hops/s", ... ; "s" for a time row
    work: int  # units of work per run (for rates); 0 for a time row
    floor: Samples
    blazen: Samples
    peer: Samples
    target: str
    target_ok: Callable[["Row"], bool | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the workload's key (``--only`` name), for the JSON and run_all's summary

    def rate(self, s: Samples) -> float:
        """Work per second at the median time of ``s`` (NaN without runs)."""
        m = s.median
        return self.work / m if s.times and m > 0 else math.nan

    def met(self) -> bool | None:
        """Whether blazen met the row's target (None: no target or nothing to judge)."""
        return self.target_ok(self) if self.target_ok else None


Measured = tuple[int, Samples, Samples, Samples]  # size, floor, blazen, peer


@dataclass
class PeerLimits:
    """Skips the peer at sizes it would take too long on, from its times at smaller ones."""

    cap: float
    points: list[tuple[int, float]] = field(default_factory=list)
    stop: str = ""  # why every larger size is skipped

    def skipped(self, n: int) -> Samples | None:
        """None when the peer should run at size ``n``, else the skipped cell."""
        if self.stop:
            return Samples(skipped=True, note=self.stop)
        if self.points:
            est = extrapolate(self.points, n, default_exponent=2.0)
            if est > self.cap:
                self.stop = "skipped (larger N)"
                return Samples(skipped=True, note=f"skipped: est. {fmt_secs(est)}/run")
        return None

    def record(self, n: int, peer: Samples) -> Samples:
        """Keep a finished size's time for the estimates; a run past the cap stops the peer."""
        if peer.times and any(math.isinf(t) for t in peer.times):
            self.stop = "skipped (larger N)"
            return Samples(skipped=True, note=f"timed out (> {fmt_secs(self.cap)}/run)")
        if peer.times:
            self.points.append((n, peer.median))
        return peer


def _no_prepare(n: int) -> None:
    return None


def measure(
    cfg: Config,
    sizes: tuple[int, ...],
    floor_fn: Callable[[int], float],
    bz_fn: Callable[[int], float],
    peer_fn: Callable[[int, float], float] | None,
    warm_n: int,
    prepare: Callable[[int], None] = _no_prepare,
) -> list[Measured]:
    """Warm up every contender once at ``min(size, warm_n)``, then time each size.

    ``prepare(n)`` builds a size's inputs before it runs (and ``prepare(0)`` drops them).
    """
    peer = peer_fn if cfg.peer else None
    w = min(sizes[0], warm_n)
    prepare(w)
    floor_fn(w)
    bz_fn(w)
    if peer:
        peer(w, cfg.peer_cap)
    limits = PeerLimits(cfg.peer_cap)
    out = []
    for n in sizes:
        prepare(n)
        out.append(_measure_size(cfg, n, floor_fn, bz_fn, peer, limits))
        prepare(0)
    return out


def _measure_size(
    cfg: Config,
    n: int,
    floor_fn: Callable[[int], float],
    bz_fn: Callable[[int], float],
    peer_fn: Callable[[int, float], float] | None,
    limits: PeerLimits,
) -> Measured:
    """Interleaved rounds of the contenders at size ``n`` (the peer within its limits)."""
    contenders: dict[str, Callable[[], float]] = {
        "floor": lambda: floor_fn(n),
        "blazen": lambda: bz_fn(n),
    }
    if peer_fn is None:
        skipped: Samples | None = Samples(skipped=True, note="peer not run")
    else:
        skipped = limits.skipped(n)
        if skipped is None:
            contenders["llama"] = lambda: peer_fn(n, cfg.peer_cap)
    res = run_rounds(contenders, cfg.repeat, {"llama": cfg.peer_budget})
    peer = skipped or res["llama"]
    return n, res["floor"], res["blazen"], limits.record(n, peer)
