"""Every program in ``examples/`` runs to completion and prints what it claims."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# Lines (or fragments of lines) each example must print.
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": [
        "progress: analyzed 7 words",
        "progress: summary ready",
        "result: {'mood': 'positive', 'score': 0.29}",
    ],
    "store_and_use_data.py": [
        "user: {'name': 'Ada', 'tags': ['new', 'active']}",
        "seen_at: 2024-01-31 date",
        "coords: (52.5, 13.4) tuple",
        "missing: default",
    ],
    "hello.py": ["{'greeting': 'Hello, Blazen!', 'seen': ['Blazen']}"],
    "run_id.py": ["job 1 ran in ", "job 2 ran in ", "same id outside: True", "ids differ: True"],
    "binary_storage.py": ["raw: 7000 bytes, stored: ", "checksum ok: True"],
    "state_value_match.py": [
        "config  json   {'retries': 3}",
        "image   bytes  6 bytes",
        "ratio   native ",
        "holding Fraction(1, 3)",
        "direct  json   ['written', 'as', 'a', 'StateValue']",
        "image kind=bytes is_bytes=True tagged={'Bytes': [137, 80, 78, 71, 13, 10]}",
    ],
    "manual_routing.py": ["92: passed, well done", "31: try again"],
    "pipeline_state.py": [
        "ranked: ['blazen-2', 'blazen-1']",
        "pipeline.query: json",
        "pipeline.results: json",
        "pipeline.__blazen_meta__: json",
        "pipeline.conn: not in the context",
        "pipeline.weights: not in the context",
        "blob store: ['pipeline.weights-fe59e092a6f8']",
        "reference in the checkpoint: {'weights': 'pipeline.weights-fe59e092a6f8'}",
    ],
    "forward_native.py": [
        "forwarded bytes identical: True",
        "re-pickling would give the same bytes: False",
        "decoded on demand: Model(name='tiny', layers=(4, 2))",
    ],
    "fan_in.py": [
        "sources: ['docs', 'web', 'wiki']",
        "items: 11",
        "topic_words: 3",
        "concurrent: True",
    ],
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Run every example at once, each in its own subprocess and empty directory."""
    pythonpath = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONWARNINGS": "error"}
    procs = {
        path.name: subprocess.Popen(
            [sys.executable, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path_factory.mktemp(path.stem),
            env=env,
        )
        for path in EXAMPLES
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = (proc.returncode, out, err)
    return results


def test_the_listed_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert set(EXPECTED) <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_has_a_docstring(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path.name} needs a top docstring saying what it shows"
    assert len(doc) > 20


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path, outputs: dict[str, tuple[int, str, str]]) -> None:
    returncode, stdout, stderr = outputs[path.name]
    assert returncode == 0, stderr
    if path.name in EXPECTED:
        assert stderr == "", stderr
    assert stdout.strip(), f"{path.name} printed nothing"
    for fragment in EXPECTED.get(path.name, []):
        assert fragment in stdout, f"{fragment!r} not in output of {path.name}:\n{stdout}"


DOC_SNIPPET = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)```", re.DOTALL)
GUIDES = [ROOT / "README.md", ROOT / "docs" / "quickstart.md", ROOT / "docs" / "context.md"]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guide_snippets_match_the_examples(guide: Path) -> None:
    snippets = DOC_SNIPPET.findall(guide.read_text())
    assert snippets, f"{guide.name} quotes no example"
    for name, code in snippets:
        source = (ROOT / "examples" / name).read_text()
        assert code in source, f"{guide.name}: a snippet marked {name} is not in examples/{name}"
