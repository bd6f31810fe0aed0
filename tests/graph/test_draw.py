"""``blazen.draw``: the graph description, its Mermaid and DOT renderings, ``Workflow.draw``."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from blazen import Context, Event, StartEvent, StopEvent, Workflow, WorkflowError, step
from blazen.draw import FORMAT_VERSION, describe, render, to_dot, to_mermaid

from .flows import crawler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from durable_pipeline import workflow as pipeline

DRAW_PY = Path(__file__).resolve().parents[2] / "src" / "blazen" / "draw.py"


def _edges(desc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], e["kind"]) for e in desc["edges"]}


def test_describe_the_example_pipeline() -> None:
    desc = describe(pipeline.graph, name=pipeline.name)
    assert desc["version"] == FORMAT_VERSION
    assert desc["workflow"] == "durable-pipeline"
    steps = {s["name"]: s for s in desc["steps"]}
    assert list(steps) == ["split", "process", "summarize", "review"]
    assert steps["process"]["accepts"] == ["DocumentEvent"]
    assert steps["process"]["emits"] == ["DocumentDone"]
    assert steps["process"]["options"] == {"max_concurrency": 4}
    assert steps["split"]["options"] == {}
    assert steps["summarize"]["emits"] == ["blazen::StopEvent", "blazen::InputRequestEvent"]
    assert steps["split"]["function"] == "durable_pipeline.split"
    events = {e["name"]: e for e in desc["events"]}
    assert events["blazen::StartEvent"]["kind"] == "start"
    assert events["blazen::StopEvent"]["kind"] == "stop"
    assert events["blazen::InputRequestEvent"]["kind"] == "input_request"
    assert events["blazen::InputResponseEvent"]["kind"] == "input_response"
    assert events["DocumentEvent"] == {
        "name": "DocumentEvent",
        "label": "DocumentEvent",
        "kind": "event",
        "class": "durable_pipeline.DocumentEvent",
        "fields": ["index", "title", "text"],
    }
    assert _edges(desc) == {
        ("event:blazen::StartEvent", "step:split", "accepts"),
        ("event:DocumentEvent", "step:process", "accepts"),
        ("event:DocumentDone", "step:summarize", "accepts"),
        ("event:blazen::InputResponseEvent", "step:review", "accepts"),
        ("step:split", "event:DocumentEvent", "returns"),
        ("step:process", "event:DocumentDone", "returns"),
        ("step:summarize", "event:blazen::StopEvent", "returns"),
        ("step:summarize", "event:blazen::InputRequestEvent", "returns"),
        ("step:review", "event:blazen::StopEvent", "returns"),
        ("event:blazen::InputRequestEvent", "event:blazen::InputResponseEvent", "input"),
    }
    assert json.loads(json.dumps(desc)) == desc  # plain JSON, as stored in run metadata


def test_describe_send_event_targets_options_cycles_and_untyped_steps() -> None:
    desc = describe(crawler.graph)
    assert desc["workflow"] is None
    steps = {s["name"]: s for s in desc["steps"]}
    assert steps["fetch"]["options"] == {"retries": 2, "timeout": 5.0}
    assert steps["note"]["emits"] is None  # nothing declared: no outgoing edge
    assert steps["note"]["accepts"] == ["Note"]
    edges = _edges(desc)
    assert ("step:dispatch", "event:Job", "emits") in edges  # declared send_event target
    assert ("step:fetch", "event:Retry", "returns") in edges
    assert ("event:Retry", "step:fetch", "accepts") in edges  # the cycle
    assert ("event:Job", "step:fetch", "accepts") in edges
    assert not [e for e in edges if e[0] == "step:note"]
    events = {e["name"]: e for e in desc["events"]}
    assert events["Note"]["class"] is None  # known by name only
    assert "blazen::InputRequestEvent" not in events


def test_mermaid_of_the_example_pipeline() -> None:
    text = pipeline.draw()
    assert text == to_mermaid(describe(pipeline.graph, name=pipeline.name))
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  e0(["StartEvent"]):::start' in lines
    assert '  s1["process (max_concurrency=4)"]:::step' in lines
    assert "  e0 --> s0" in lines
    ids = {line.split("[")[0].split("(")[0].split("{")[0].strip(): line for line in lines[1:11]}
    assert len(ids) == 10  # 6 event types + 4 steps, each declared once
    assert sum(1 for line in lines if "-->" in line or "-.->" in line) == 10


def test_mermaid_escapes_labels_and_marks_declared_and_undeclared_edges() -> None:
    text = crawler.draw("mermaid")
    assert "-.->|emits|" in text  # dispatch -> Job, declared only
    assert ":::undeclared" in text  # note's emits are unknown
    desc = describe(crawler.graph)
    desc["steps"][0]["name"] = 'say "hi" <b>'
    desc["edges"] = []
    assert '  s0["say #quot;hi#quot; #lt;b#gt;"]:::step' in to_mermaid(desc)


def test_dot_is_valid_graphviz(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz's dot is not installed (.ci/run installs it)")
        pytest.skip("Graphviz's dot is not installed")
    for wf in (pipeline, crawler):
        text = wf.draw("dot")
        assert text.startswith(f"digraph {json.dumps(wf.name)} {{")
        done = subprocess.run(
            ["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "<svg" in done.stdout
        for spec in wf.graph.steps:
            assert spec in done.stdout


def test_dot_quotes_names() -> None:
    text = to_dot(describe(crawler.graph, name='crawler "v2"'))
    assert text.startswith('digraph "crawler \\"v2\\"" {')
    assert '"step:dispatch" -> "event:Job" [style=dashed, label="emits"];' in text


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(
        WorkflowError, match="unknown graph format 'png': expected one of mermaid, dot"
    ):
        pipeline.draw("png")  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="unknown graph format"):
        render(describe(pipeline.graph), "svg")


def test_draw_does_not_import_the_workflow_module() -> None:
    tree = ast.parse(DRAW_PY.read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert "blazen.workflow" not in imported
    assert not {m for m in imported if m.startswith(("blazen.ui", "blazen.cli", "starlette"))}


def test_emits_adds_to_the_return_annotation() -> None:
    class Side(Event):
        n: int = 0

    @step(emits=[Side])
    async def ask(ctx: Context, ev: StartEvent) -> StopEvent:
        ctx.send_event(Side())
        return StopEvent(result=1)

    @step
    async def side(ctx: Context, ev: Side) -> None:
        return None

    edges = _edges(describe(Workflow("both", [ask, side]).graph))
    assert ("step:ask", "event:Side", "emits") in edges
    assert ("step:ask", "event:blazen::StopEvent", "returns") in edges


def test_a_typed_start_event_is_labelled_with_its_class() -> None:
    class Order(StartEvent):
        qty: int

    @step
    async def take(ctx: Context, ev: Order) -> StopEvent:
        return StopEvent(result=ev.qty)

    desc = describe(Workflow("orders", [take]).graph)
    start = next(e for e in desc["events"] if e["name"] == "blazen::StartEvent")
    assert start["label"] == "Order (StartEvent)"
    assert start["fields"] == ["qty"]
    assert '(["Order (StartEvent)"])' in to_mermaid(desc)
