"""``blazen graph TARGET --format mermaid|dot|svg``: print a workflow's graph.

``svg`` pipes the DOT text through Graphviz's ``dot`` program, which must be on ``PATH``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from blazen.cli._common import EXIT_USAGE, CliError
from blazen.cli._target import load_workflow
from blazen.draw import describe, render

__all__ = ["FORMATS", "graph_text"]

FORMATS: tuple[str, ...] = ("mermaid", "dot", "svg")
_DOT_TIMEOUT = 60.0


def graph_text(target: str, format: str) -> str:
    """The graph of TARGET's workflow in ``format``; ``CliError`` when it cannot be made."""
    if format not in FORMATS:
        raise CliError(f"bad --format {format!r}: expected one of {', '.join(FORMATS)}", EXIT_USAGE)
    wf = load_workflow(target)
    desc = describe(wf.graph, name=wf.name)
    if format != "svg":
        return render(desc, format)
    return to_svg(render(desc, "dot"))


def to_svg(dot_text: str) -> str:
    """Run Graphviz's ``dot -Tsvg`` on ``dot_text``; ``CliError`` (exit 2) when it is missing."""
    exe = shutil.which("dot")
    if exe is None:
        raise CliError(
            "--format svg needs Graphviz's `dot` program, which is not on PATH: install "
            "Graphviz (e.g. `apt-get install graphviz` or `brew install graphviz`), or use "
            "--format dot / --format mermaid",
            EXIT_USAGE,
        )
    try:
        done = subprocess.run(
            [exe, "-Tsvg"],
            input=dot_text,
            capture_output=True,
            text=True,
            timeout=_DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CliError(f"could not run {exe}: {exc}") from exc
    if done.returncode != 0:
        raise CliError(f"{exe} -Tsvg failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def print_graph(target: str, format: str) -> None:
    """``blazen graph``: write the graph to stdout."""
    text = graph_text(target, format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
