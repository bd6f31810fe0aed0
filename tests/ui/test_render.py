"""The pieces of the pages: value views (never unpickling), the timeline and the graph drawing."""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from datetime import date

from blazen.draw import describe
from blazen.stores.base import CheckpointInfo, PendingEvent, RunRecord
from blazen.ui._graph_svg import graph_svg
from blazen.ui._timeline import timeline_bars, timeline_svg
from blazen.ui._values import diff_states, event_data_text, pickle_type, plain_data, value_view
from blazen.values import StateValue

from .flows import UNPICKLED, Trap, looping, pipeline


def test_pickle_type_reads_the_class_without_loading() -> None:
    assert pickle_type(pickle.dumps(date(2024, 1, 2))) == "datetime.date"
    assert pickle_type(pickle.dumps({1, 2})) == "set"
    assert pickle_type(pickle.dumps({1, 2}, protocol=3)) == "builtins.set"  # a global call
    assert pickle_type(pickle.dumps({"a": 1})) == "dict"
    assert pickle_type(pickle.dumps([1])) == "list"
    assert pickle_type(pickle.dumps("text")) == "str"
    assert pickle_type(pickle.dumps(3)) == "int"
    assert pickle_type(pickle.dumps(date(2024, 1, 2), protocol=0)) == "datetime.date"
    assert pickle_type(pickle.dumps(Trap("x"))).endswith("flows._sprung")
    assert pickle_type(b"not a pickle") == "unknown (not a readable pickle)"
    assert UNPICKLED == []


def test_value_views() -> None:
    view = value_view(StateValue.Json({"a": [1, 2]}))
    assert (view.kind, view.summary) == ("json", '{"a": [1, 2]}')
    assert view.text == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    view = value_view(StateValue.Bytes(bytes(range(40))))
    assert view.kind == "bytes"
    assert view.summary == "40 B: " + bytes(range(32)).hex(" ") + " …"
    view = value_view(StateValue.Native(pickle.dumps(Trap("y"))))
    assert view.kind == "native"
    assert re.fullmatch(r"pickled \S+flows\._sprung, \d+ B", view.summary)
    big = value_view(StateValue.Json("x" * 30_000))
    assert big.text.endswith("more characters)")
    assert UNPICKLED == []


def test_diff_states() -> None:
    before = {"a": StateValue.Json(1), "b": StateValue.Json(1), "c": StateValue.Bytes(b"x")}
    after = {"a": StateValue.Json(1), "b": StateValue.Json(1.0), "d": StateValue.Json(None)}
    assert diff_states(before, after) == {
        "a": "same",
        "b": "changed",  # 1 and 1.0 are different stored values
        "d": "added",
        "c": "removed",
    }
    assert diff_states(None, {"a": StateValue.Json(1)}) == {"a": "added"}


def test_event_data_is_shown_without_unpickling() -> None:
    native = {"$blazen": {"Native": pickle.dumps(Trap("z"))}}
    data = {"url": "u", "blob": b"\x00\x01", "obj": native, "x": {"$blazen": {"Json": {"k": 1}}}}
    shown = plain_data(data)
    assert shown["url"] == "u"
    assert shown["blob"] == "<2 B: 00 01>"
    assert re.fullmatch(r"<pickled \S+_sprung, \d+ B>", shown["obj"])
    assert shown["x"] == {"k": 1}
    assert event_data_text("blazen::StartEvent", {"data": {"n": 1}}) == '{\n  "n": 1\n}'
    assert UNPICKLED == []


@dataclass(frozen=True)
class Attempted(CheckpointInfo):
    """A commit as issue 12 will record retries: its attempt number and error."""

    attempt: int = 1
    error: str | None = None


def test_timeline_bars_start_at_the_emission_of_what_they_consumed() -> None:
    record = RunRecord("r", "wf", "failed", 100.0, 104.0, 4, error="step 'b' failed in run r: E")
    checkpoints = [
        CheckpointInfo(0, "<create>", 100.0, (), ("e1",), 0),
        CheckpointInfo(1, "a", 101.0, ("k",), ("e2", "e3"), 1),
        Attempted(2, "b", 103.0, (), (), 1, attempt=2),
        Attempted(3, "b", 103.5, (), (), 1, attempt=3, error="TimeoutError: slow"),
        CheckpointInfo(4, "<end>", 104.0, (), (), 0),
    ]
    ev = PendingEvent
    events = [
        (0, ev("e1", "blazen::StartEvent", {}, None, "a"), 1),
        (1, ev("e2", "B", {}, "a", "b"), 2),
        (1, ev("e3", "B", {}, "a", "b"), 3),
        (1, ev("e4", "B", {}, "a", "b"), None),
    ]
    bars = timeline_bars(record, checkpoints, events)
    by_seq = {b.seq: b for b in bars}
    assert (by_seq[1].lane, by_seq[1].start, by_seq[1].end) == ("a", 100.0, 101.0)
    assert (by_seq[2].start, by_seq[2].end, by_seq[2].css) == (101.0, 103.0, "bar retried")
    assert by_seq[3].css == "bar retried failed"
    assert "error: TimeoutError: slow" in by_seq[3].title
    assert by_seq[4].css == "tick failed"
    assert by_seq[4].title.endswith("step 'b' failed in run r: E")
    failed = [b for b in bars if b.seq is None]
    assert [(b.lane, b.start, b.end, b.css) for b in failed] == [("b", 101.0, 104.0, "bar failed")]
    svg = timeline_svg(record, bars, "/runs/r?seq={seq}")
    assert svg.count('<a href="/runs/r?seq=') == 5
    assert ">b</text>" in svg
    # bars 2, 3 and the failed delivery overlap in time: three rows in lane b
    ys = {float(y) for y in re.findall(r'class="bar[^"]*" x="[\d.]+" y="([\d.]+)"', svg)}
    assert len(ys) == 4  # a's row and b's three


def test_graph_svg_draws_every_node_and_edge_and_marks_executed_steps() -> None:
    desc = describe(pipeline().graph)
    svg = graph_svg(desc, {"fan_out": 1, "work": 3})
    assert svg.count('<g class="node') == len(desc["steps"]) + len(desc["events"])
    assert svg.count('<path class="edge') == len(desc["edges"])
    assert '<g class="node g-step ran" data-node="step:work">' in svg
    assert '<g class="node g-step" data-node="step:collect">' in svg
    assert "work  ×3" in svg  # noqa: RUF001


def test_graph_svg_draws_cycles_on_the_side() -> None:
    desc = describe(looping().graph)
    svg = graph_svg(desc)
    assert svg.count(' back"') == 1  # Again -> retry_loop closes the cycle
    assert 'class="node g-step undeclared" data-node="step:note"' in svg
    width = float(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    assert max(xs) < width


def test_graph_svg_of_an_escaping_label() -> None:
    svg = graph_svg({"steps": [{"name": "<script>", "emits": []}], "events": [], "edges": []}, {})
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
