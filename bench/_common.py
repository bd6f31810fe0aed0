"""Small helpers shared by the benchmark scripts: medians, number formatting, tables,
and an interleaved, budgeted repeat loop.

Nothing here imports blazen, so a benchmark can import it before choosing what to load.
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Samples",
    "extrapolate",
    "fmt_rate",
    "fmt_ratio",
    "fmt_secs",
    "median",
    "render_table",
    "run_rounds",
]


def median(xs: Iterable[float]) -> float:
    """The median of ``xs`` (NaN for an empty sequence)."""
    xs = list(xs)
    return statistics.median(xs) if xs else math.nan


def fmt_rate(x: float | None) -> str:
    """``1234567`` -> ``"1.23M"``, ``45600`` -> ``"45.6k"``."""
    if x is None or math.isnan(x):
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            v = x / div
            return f"{v:.3g}{suffix}" if v < 100 else f"{v:.0f}{suffix}"
    return f"{x:.3g}"


def fmt_secs(t: float | None) -> str:
    """Seconds with a readable unit: ``"4.03 s"``, ``"12.3 ms"``, ``"85.0 µs"``."""
    if t is None or math.isnan(t):
        return "-"
    if t >= 1:
        return f"{t:.3g} s"
    if t >= 1e-3:
        return f"{t * 1e3:.3g} ms"
    if t >= 1e-6:
        return f"{t * 1e6:.3g} µs"
    return f"{t * 1e9:.3g} ns"


def fmt_ratio(x: float | None) -> str:
    """A ratio as ``"3.2x"``, ``"0.011x"`` (3 significant digits)."""
    if x is None or math.isnan(x) or math.isinf(x):
        return "-"
    if x >= 100:
        return f"{x:.0f}x"
    return f"{x:.3g}x"


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None
) -> str:
    """A markdown table with padded columns. ``align``: one of ``l``/``r`` per column."""
    ncol = len(headers)
    align = align or "l" * ncol
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if align[i] == "r" else cell.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
            for w, a in zip(widths, align, strict=True)
        )
        + "|"
    )
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


@dataclass
class Samples:
    """The timed runs of one contender for one measurement."""

    times: list[float] = field(default_factory=list)
    note: str = ""  # why there are fewer runs than asked, or why there are none
    skipped: bool = False

    @property
    def median(self) -> float:
        """The median of the times (NaN when there are none)."""
        return median(self.times)


def run_rounds(
    contenders: dict[str, Callable[[], float]],
    repeat: int,
    budgets: dict[str, float | None] | None = None,
) -> dict[str, Samples]:
    """Run each contender ``repeat`` times, interleaved round by round (a, b, c, a, b, c...)
    so machine noise spreads over all of them. Each callable does one run and returns the
    seconds it measured itself. A contender with a budget stops after the round in which
    its summed time passed the budget (it always gets at least one run). ``gc.collect()``
    runs before every timed run, outside the timing.
    """
    budgets = budgets or {}
    out = {name: Samples() for name in contenders}
    spent = dict.fromkeys(contenders, 0.0)
    for _round in range(repeat):
        for name, fn in contenders.items():
            budget = budgets.get(name)
            if budget is not None and out[name].times and spent[name] >= budget:
                continue
            gc.collect()
            t = fn()
            out[name].times.append(t)
            spent[name] += t
    for s in out.values():
        if len(s.times) < repeat:
            s.note = f"{len(s.times)}/{repeat} runs (time budget)"
    return out


def extrapolate(points: Sequence[tuple[int, float]], n: int, default_exponent: float) -> float:
    """Estimate the time at size ``n`` from measured ``(size, seconds)`` points: the growth
    exponent is fitted on the last two points (at least 1), or ``default_exponent`` with one."""
    if not points:
        return 0.0
    n1, t1 = points[-1]
    exp = default_exponent
    if len(points) >= 2:
        n0, t0 = points[-2]
        if t0 > 0 and n1 > n0:
            exp = max(1.0, math.log(t1 / t0) / math.log(n1 / n0))
    return t1 * (n / n1) ** exp
