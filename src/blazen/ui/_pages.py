"""HTML of the pages, from the Jinja2 templates shipped in ``blazen/ui/templates``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from blazen.status import REQUEUEABLE
from blazen.ui._data import STATUSES, RunDetail, RunPage
from blazen.ui._graph_svg import graph_svg
from blazen.ui._timeline import timeline_bars, timeline_svg
from blazen.ui._values import fmt_size

__all__ = ["Pages", "fmt_duration", "fmt_time"]


def fmt_time(ts: float) -> str:
    """Local time to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def fmt_duration(seconds: float) -> str:
    """``0.123s``, ``12.3s``, ``4m05s``, ``2h03m``."""
    if seconds < 10:
        return f"{seconds:.3f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def run_url(run_id: str, **query: Any) -> str:
    """The address of a run page."""
    params = {k: v for k, v in query.items() if v is not None}
    return f"/runs/{quote(run_id, safe='')}" + (f"?{urlencode(params)}" if params else "")


@dataclass(frozen=True)
class UiOptions:
    """Settings of one viewer."""

    allow_actions: bool = False
    page_size: int = 25
    poll_seconds: float = 2.0
    store_label: str = ""


class Pages:
    """Renders each page with the shared options (actions shown or not, poll period)."""

    def __init__(self, options: UiOptions, csrf: str) -> None:
        self.options = options
        self.csrf = csrf
        self.env = Environment(
            loader=PackageLoader("blazen.ui", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            time=fmt_time, duration=fmt_duration, size=fmt_size, run_url=run_url
        )
        self.env.globals.update(
            csrf=csrf,
            actions=options.allow_actions,
            poll_ms=int(options.poll_seconds * 1000),
            store_label=options.store_label,
            statuses=STATUSES,
        )

    def runs(self, listing: RunPage, workflow: str | None, status: str | None) -> str:
        """The runs list."""
        base = {"workflow": workflow, "status": status}
        query = {k: v for k, v in base.items() if v}

        def page_url(page: int) -> str:
            return "/?" + urlencode({**query, "page": page})

        return self.env.get_template("runs.html").render(
            listing=listing,
            workflow=workflow or "",
            status=status or "",
            prev_url=page_url(listing.page - 1) if listing.page > 0 else None,
            next_url=page_url(listing.page + 1) if listing.has_more else None,
            api_url="/api/runs?" + urlencode({**query, "page": listing.page}),
        )

    def run(self, detail: RunDetail, *, explicit_seq: bool, notice: str | None) -> str:
        """The run page."""
        record = detail.record
        link = run_url(record.run_id) + "?seq={seq}"
        bars = timeline_bars(record, detail.checkpoints, detail.events)
        graph = graph_svg(detail.graph, detail.executed) if detail.graph else None
        return self.env.get_template("run.html").render(
            d=detail,
            r=record,
            timeline=Markup(timeline_svg(record, bars, link)),
            graph=Markup(graph) if graph else None,
            explicit_seq=explicit_seq,
            notice=notice,
            forked=_forked(record.metadata),
            pending_total=sum(1 for _, _, consumed in detail.events if consumed is None),
            resumable=record.status in REQUEUEABLE,
        )

    def error(self, status: int, message: str) -> str:
        """An error page (404 for an unknown run...)."""
        return self.env.get_template("error.html").render(status=status, message=message)


def _forked(metadata: Any) -> dict[str, Any] | None:
    forked = metadata.get("forked_from") if isinstance(metadata, dict) else None
    return forked if isinstance(forked, dict) and isinstance(forked.get("run_id"), str) else None
