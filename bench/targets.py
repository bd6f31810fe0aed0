"""The rows of issue 7 and their targets, shared by run_all.py (blazen) and peers.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One summary row: where its numbers come from and what it must reach."""

    label: str
    unit: str
    source: str  # "core" (bench_core JSON row name in ``key``), "snapshot", "durable", "otel"
    key: str
    max_cost: float | None = None  # blazen time / floor time
    min_rate: float | None = None  # units per second
    minus: str | None = None  # "core" rows: subtract this row's times (one part of a workload)

    @property
    def text(self) -> str:
        """The target as shown in the table."""
        parts = []
        if self.max_cost is not None:
            parts.append(f"<= {self.max_cost:g}x")
        if self.min_rate is not None:
            parts.append(f">= {self.min_rate / 1e6:g}M {self.unit}")
        return ", ".join(parts)

    def met(self, cost: float, rate: float | None) -> bool | None:
        """Whether a measured cost (and rate, for rate targets) meets the target (None: the
        row has no target, it is shown for information)."""
        if self.max_cost is None and self.min_rate is None:
            return None
        if self.max_cost is not None and cost > self.max_cost:
            return False
        return self.min_rate is None or (rate is not None and rate >= self.min_rate)


TARGETS = [
    Target("fan-out, 10k events", "events/s", "core", "fanout", max_cost=3),
    # what fan-out's time is made of: the user's 10k events, built in its start step, and the rest
    Target("  of which building the 10k events", "events/s", "core", "fanout-build"),
    Target(
        "  of which the rest (dispatch, ctx)", "events/s", "core", "fanout", minus="fanout-build"
    ),
    Target("1k concurrent 3-step runs", "runs/s", "core", "runs", max_cost=6),
    Target(
        'Context set+get, 100k keys, {"i": i, "v": "x"}',
        "ops/s",
        "core",
        "ctx",
        max_cost=3,
        min_rate=1.5e6,
    ),
    Target("10k-hop chain (keep)", "hops/s", "core", "chain", max_cost=4.5),
    Target("snapshot 100 MiB: serialize", "time", "snapshot", "serialize (s)", max_cost=1.2),
    Target("snapshot 100 MiB: restore", "time", "snapshot", "restore (s)", max_cost=1.2),
    Target("durable 10k-hop chain, SQLite", "hops/s", "durable", "sqlite", max_cost=1.3),
    Target("bytes set+get, 100 MB value (no copy)", "ops/s", "core", "bytes", min_rate=1.5e6),
    # issue 8: the floor of these two rows is the same chain untraced (bench_otel.py)
    Target("10k-hop chain, tracing off (no provider)", "hops/s", "otel", "off", max_cost=1.05),
    Target("10k-hop chain, tracing on (SDK, batch export)", "hops/s", "otel", "on, batch"),
]
