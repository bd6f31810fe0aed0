"""``blazen graph TARGET --format mermaid|dot|svg`` as a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINE = f"{REPO / 'examples' / 'durable_pipeline.py'}:workflow"
CRAWLER = f"{Path(__file__).with_name('flows.py')}:crawler"


def blazen(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "blazen.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_graph_prints_mermaid_by_default() -> None:
    res = blazen("graph", PIPELINE)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("flowchart TD\n")
    assert '["process (max_concurrency=4)"]' in res.stdout


def test_graph_prints_dot() -> None:
    res = blazen("graph", CRAWLER, "--format", "dot")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith('digraph "crawler \\"v2\\"" {')
    assert res.stdout.rstrip().endswith("}")


def test_graph_svg_runs_graphviz() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz's dot is not installed (.ci/run installs it)")
        pytest.skip("Graphviz's dot is not installed")
    res = blazen("graph", PIPELINE, "-f", "svg")
    assert res.returncode == 0, res.stderr
    assert "<svg" in res.stdout
    assert ">summarize</text>" in res.stdout


def test_graph_svg_without_graphviz_says_so(tmp_path: Path) -> None:
    res = blazen("graph", PIPELINE, "--format", "svg", path=str(tmp_path))
    assert res.returncode == 2
    assert "--format svg needs Graphviz's `dot` program, which is not on PATH" in res.stderr
    assert res.stdout == ""


def test_graph_rejects_an_unknown_format_and_a_bad_target() -> None:
    res = blazen("graph", PIPELINE, "--format", "png")
    assert res.returncode == 2
    assert "bad --format 'png': expected one of mermaid, dot, svg" in res.stderr
    res = blazen("graph", f"{REPO / 'examples' / 'durable_pipeline.py'}:nothing")
    assert res.returncode == 2
    assert "has no attribute 'nothing'" in res.stderr
