"""The step timeline of a run as inline SVG: one lane per step, each commit a bar in time.

A commit only records when it landed, so a bar starts when the event it consumed was
emitted (the commit that emitted it) and ends at its own commit: the time the event
waited plus the step's run, retries included. Engine commits (``<create>``, ``<resume>``,
``<end>``...) are ticks on the ``run`` lane. Commits carrying an ``attempt`` number or an
``error`` (recorded retries) are drawn as such; a failed run shows the failing step's
unhandled deliveries as red bars up to the failure, and a red ``<end>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from blazen.stores.base import CheckpointInfo, PendingEvent, RunRecord

__all__ = ["Bar", "timeline_bars", "timeline_svg"]

_LABEL_W = 150.0
_PLOT_W = 760.0
_BAR_H = 12.0
_GAP = 3.0  # between the rows of overlapping bars in one lane
_PAD = 5.0  # above and below a lane's bars
_AXIS_H = 26.0
_MIN_BAR = 3.0
_RUN_LANE = "run"
_FAILED_STEP = re.compile(r"step '([^']+)' failed")


@dataclass(frozen=True, slots=True)
class Bar:
    """One drawn commit (or failed delivery): its lane, times, look and tooltip."""

    lane: str
    start: float
    end: float
    css: str
    title: str
    seq: int | None


def timeline_bars(
    record: RunRecord,
    checkpoints: Sequence[CheckpointInfo],
    events: Sequence[tuple[int, PendingEvent, int | None]],
) -> list[Bar]:
    """The bars of a run, in commit order (failed deliveries last)."""
    at = {c.seq: c.created_at for c in checkpoints}
    started: dict[int, float] = {}
    for emitted_seq, _, consumed_seq in events:
        if consumed_seq is not None and emitted_seq in at:
            t = at[emitted_seq]
            started[consumed_seq] = min(started.get(consumed_seq, t), t)
    bars = [_bar(record, c, started.get(c.seq)) for c in checkpoints]
    if record.status == "failed":
        bars += _failed_deliveries(record, at, events)
    return bars


def _bar(record: RunRecord, c: CheckpointInfo, start: float | None) -> Bar:
    t = c.created_at - record.created_at
    attempt = getattr(c, "attempt", None)
    error = getattr(c, "error", None)
    if c.step.startswith("<"):
        css = "tick"
        if c.step == "<end>" and record.status == "failed":
            css += " failed"
        title = f"commit {c.seq}: {c.step} at +{t:.3f}s"
        if c.step == "<end>" and record.error:
            title += f"\n{record.error}"
        return Bar(_RUN_LANE, c.created_at, c.created_at, css, title, c.seq)
    begin = start if start is not None else c.created_at
    css = "bar"
    title = (
        f"commit {c.seq}: {c.step}, +{begin - record.created_at:.3f}s → +{t:.3f}s "
        f"({c.created_at - begin:.3f}s); consumed {c.consumed}, emitted {len(c.emitted)}, "
        f"wrote {len(c.writes)}"
    )
    if isinstance(attempt, int) and attempt > 1:
        css += " retried"
        title += f"\nattempt {attempt}"
    if isinstance(error, str) and error:
        css += " failed"
        title += f"\nerror: {error}"
    return Bar(c.step, begin, c.created_at, css, title, c.seq)


def _failed_deliveries(
    record: RunRecord, at: dict[int, float], events: Sequence[tuple[int, PendingEvent, int | None]]
) -> list[Bar]:
    """The failing step's unhandled events, from their emission to the failure."""
    match = _FAILED_STEP.search(record.error or "")
    if match is None:
        return []
    step = match.group(1)
    bars = []
    for emitted_seq, event, consumed_seq in events:
        if consumed_seq is None and event.target_step == step and emitted_seq in at:
            title = f"{step} failed handling {event.event_type}\n{record.error}"
            bars.append(Bar(step, at[emitted_seq], record.updated_at, "bar failed", title, None))
    return bars


def _rows(bars: Sequence[Bar]) -> dict[int, int]:
    """Bar index -> row within its lane, so that bars overlapping in time stack (greedy)."""
    ends: dict[str, list[float]] = {}
    rows: dict[int, int] = {}
    for i, bar in sorted(enumerate(bars), key=lambda ib: (ib[1].start, ib[1].end)):
        lane_ends = ends.setdefault(bar.lane, [])
        row = next((r for r, end in enumerate(lane_ends) if end < bar.start), len(lane_ends))
        if row == len(lane_ends):
            lane_ends.append(bar.end)
        else:
            lane_ends[row] = bar.end
        rows[i] = row
    return rows


def timeline_svg(record: RunRecord, bars: Sequence[Bar], link: str = "?seq={seq}") -> str:
    """The bars drawn on a time axis starting at the run's creation."""
    lanes = [_RUN_LANE, *dict.fromkeys(b.lane for b in bars if b.lane != _RUN_LANE)]
    rows = _rows(bars)
    depth = dict.fromkeys(lanes, 1)
    for i, bar in enumerate(bars):
        depth[bar.lane] = max(depth[bar.lane], rows[i] + 1)
    tops: dict[str, float] = {}
    y = _AXIS_H
    for lane in lanes:
        tops[lane] = y
        y += _lane_height(depth[lane])
    t0 = record.created_at
    span = max([b.end - t0 for b in bars] + [1e-3])
    height = y + 6
    width = _LABEL_W + _PLOT_W + 20
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="step timeline">'
    ]
    out += _axis(span, height)
    for lane in lanes:
        top, bottom = tops[lane], tops[lane] + _lane_height(depth[lane])
        out.append(
            f'<text class="lane" x="{_LABEL_W - 8:.0f}" y="{(top + bottom) / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(lane)}</text>'
        )
        out.append(
            f'<line class="lane-rule" x1="{_LABEL_W:.0f}" x2="{_LABEL_W + _PLOT_W:.0f}" '
            f'y1="{bottom:.1f}" y2="{bottom:.1f}"/>'
        )
    for i, bar in enumerate(bars):
        y_bar = tops[bar.lane] + _PAD + rows[i] * (_BAR_H + _GAP)
        out.append(_draw(bar, y_bar, t0, span, link))
    out.append("</svg>")
    return "".join(out)


def _lane_height(rows: int) -> float:
    return 2 * _PAD + rows * _BAR_H + (rows - 1) * _GAP


def _x(t: float, t0: float, span: float) -> float:
    return _LABEL_W + (t - t0) / span * _PLOT_W


def _axis(span: float, height: float) -> list[str]:
    out = []
    for i in range(6):
        x = _LABEL_W + i * _PLOT_W / 5
        out.append(f'<line class="tick-rule" x1="{x:.1f}" x2="{x:.1f}" y1="18" y2="{height:.0f}"/>')
        out.append(
            f'<text class="axis" x="{x:.1f}" y="13" text-anchor="middle">'
            f"+{span * i / 5:.{_digits(span)}f}s</text>"
        )
    return out


def _digits(span: float) -> int:
    return 3 if span < 1 else 2 if span < 10 else 1 if span < 100 else 0


def _draw(bar: Bar, y: float, t0: float, span: float, link: str) -> str:
    x1 = _x(bar.start, t0, span)
    w = max(_x(bar.end, t0, span) - x1, _MIN_BAR)
    if bar.css.startswith("tick"):
        x1, w = x1 - 1.5, 3.0
    shape = (
        f'<rect class="{escape(bar.css)}" x="{x1:.1f}" y="{y:.1f}" width="{w:.1f}" '
        f'height="{_BAR_H:.0f}" rx="2"><title>{escape(bar.title)}</title></rect>'
    )
    if bar.seq is None:
        return shape
    href = escape(link.format(seq=bar.seq))
    return f'<a href="{href}" data-seq="{bar.seq}">{shape}</a>'
