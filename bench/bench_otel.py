"""What OpenTelemetry tracing costs on the 10k-hop chain: off, on, beside untraced.

    python bench/bench_otel.py [--repeat 5] [--hops 10000] [--clock cpu] [--json FILE]

Four contenders, interleaved round by round in one process (medians):

* ``untraced``: the runtime as without OpenTelemetry installed (no adapter at all);
* ``off``: OpenTelemetry installed, no tracer provider configured (the API's default):
  ``blazen.otel.observer`` is asked once per run and returns ``None``;
* ``on, batch``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` (how services
  export) to an exporter that drops the spans: 10,001 spans per run (run + one per hop);
* ``on, simple``: the same with a ``SimpleSpanProcessor`` (export inline at each span end).

Cost = the contender's median time / untraced's. Needs ``opentelemetry-sdk`` (the ``test``
extra): without it the script says so and writes a JSON with a ``skipped`` note.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import fmt_rate, fmt_ratio, render_table, run_rounds  # noqa: E402

HEADERS = ["10k-hop chain", "hops/s", "time / untraced", "per hop over untraced"]


def _sdk_missing() -> str:
    """Why tracing cannot be measured here ("" when the SDK is installed)."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return "opentelemetry-sdk is not installed (pip install -e '.[test]')"
    return ""


def contenders(hops: int) -> dict[str, Callable[[], float]]:
    """Each setting as a callable timing one chain run under it."""
    from core.blazen_flows import bz_chain
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    import blazen._tracing
    import blazen.otel

    class Dropping(SpanExporter):
        """Takes the spans and drops them: the cost measured is blazen's and the SDK's."""

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    batch, simple = TracerProvider(), TracerProvider()
    batch.add_span_processor(BatchSpanProcessor(Dropping(), max_queue_size=1 << 16))
    simple.add_span_processor(SimpleSpanProcessor(Dropping()))

    def timed(factory: Any, provider: Any) -> Callable[[], float]:
        def one() -> float:
            blazen._tracing._factory = factory
            blazen.otel.use_tracer_provider(provider)
            return bz_chain(hops)

        return one

    return {
        "untraced": timed(None, None),
        "off": timed(blazen.otel.observer, None),
        "on, batch": timed(blazen.otel.observer, batch),
        "on, simple": timed(blazen.otel.observer, simple),
        SDK_ALONE: lambda: sdk_alone(simple, hops + 1),
    }


SDK_ALONE = "SDK alone"


def sdk_alone(provider: Any, spans: int) -> float:
    """Seconds for ``spans`` bare SDK spans like blazen's step spans (same attributes,
    made current and ended), without blazen: the part of "on" that is the SDK's own."""
    from core.base import perf
    from opentelemetry import context, trace

    tracer = provider.get_tracer("bench")
    parent = trace.set_span_in_context(tracer.start_span("run"), context.Context())
    attrs = {
        "blazen.run_id": "9e90ad62-f2a9-4590-9708-63e5b49ec733",
        "blazen.workflow": "bench_chain",
        "blazen.step": "chain_hop",
        "blazen.attempt": 1,
        "blazen.input_event": "Hop",
    }
    t0 = perf()
    for _ in range(spans):
        span = tracer.start_span("blazen.step chain_hop", context=parent, attributes=attrs)
        token = context.attach(trace.set_span_in_context(span))
        context.detach(token)
        span.set_attribute("blazen.events_emitted", ["Hop"])
        span.end()
    return perf() - t0


def measure(hops: int, repeat: int) -> list[dict[str, Any]]:
    """Medians of every contender (one warm-up run each first, not timed)."""
    runs = contenders(hops)
    for run in runs.values():
        run()
    res = run_rounds(runs, repeat)
    base = res["untraced"].median
    return [
        {
            "what": name,
            "seconds": s.median,
            "untraced": base,
            "hops": hops,
            "times": s.times,
        }
        for name, s in res.items()
    ]


def table(rows: list[dict[str, Any]]) -> str:
    """The script's table: rates, cost over untraced, and the added time per hop."""
    lines = []
    for r in rows:
        if r["what"] == SDK_ALONE:
            continue
        extra_ns = (r["seconds"] - r["untraced"]) / r["hops"] * 1e9
        lines.append(
            [
                r["what"],
                fmt_rate(r["hops"] / r["seconds"]),
                fmt_ratio(r["seconds"] / r["untraced"]),
                "-" if r["what"] == "untraced" else f"{extra_ns:+.0f} ns",
            ]
        )
    return render_table(HEADERS, lines, "lrrr")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--hops", type=int, default=10_000)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--json", default="", help="write the medians to this file")
    args = ap.parse_args()
    missing = _sdk_missing()
    if missing:
        print(f"# bench_otel: skipped: {missing}")
        payload: dict[str, Any] = {"skipped": missing}
    else:
        from core.base import set_clock

        set_clock(args.clock)
        print(
            f"# bench_otel: python {platform.python_version()}, {args.hops} hops, "
            f"medians of {args.repeat}, clock {args.clock}\n"
        )
        rows = measure(args.hops, args.repeat)
        print(table(rows))
        (alone,) = [r for r in rows if r["what"] == SDK_ALONE]
        print(
            f"\nSDK alone (one span like a step's: start with 5 attributes, make current, "
            f"end; simple processor, no blazen): {alone['seconds'] / args.hops * 1e9:.0f} ns"
        )
        payload = {"rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
