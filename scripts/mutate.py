"""A sampled mutation score: change one operator in the core, run the tests, count the kills.

    .venv/bin/python scripts/mutate.py --sample 120 --seed 7 --jobs 2

Each mutant is one small change to one module of ``src/blazen`` (a comparison flipped or
made strict, ``and``/``or`` swapped, a ``not`` dropped, ``True``/``False`` swapped, an
integer constant moved by one, a ``return`` value replaced by ``None``), written with
``ast`` into a copy of ``src/``; the mutant is *killed* when the test command fails on that
copy (or exceeds the time limit), *survived* when it passes. Mutants whose source does not
change (``ast.unparse`` equal) are skipped. Prints one line per mutant and the score.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = [
    "context.py",
    "values.py",
    "_jsoncopy.py",
    "events.py",
    "step.py",
    "_step_options.py",
    "_graph.py",
    "_collect.py",
    "_context_data.py",
    "_runtime/dispatch.py",
    "_runtime/run.py",
    "_runtime/steps.py",
    "_runtime/persist.py",
    "_runtime/durable.py",
    "_runtime/committer.py",
    "_runtime/invoke.py",
    "stores/_batch.py",
    "stores/_coord.py",
    "snapshot/event_data.py",
]
TESTS = [
    "tests/unit",
    "tests/runtime",
    "tests/persistence",
    "tests/snapshot",
    "tests/durable",
    "tests/compat",
    "tests/stores",
    "tests/workers/test_defects.py",
    "tests/workers/test_worker.py",
]
_FLIP: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    what: str
    source: str


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every node one operator can change, with a label."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            yield node, f"{type(node.ops[0]).__name__} flipped"
        elif isinstance(node, ast.BoolOp):
            yield node, f"{type(node.op).__name__} swapped"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not dropped"
        elif isinstance(node, ast.Constant) and type(node.value) in (bool, int):
            yield node, f"constant {node.value!r} changed"
        elif isinstance(node, ast.Return) and not (
            node.value is None
            or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            yield node, "return None"


class _Mutate(ast.NodeTransformer):
    """Replace the one ``target`` node by its mutant."""

    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return super().generic_visit(node)
        if isinstance(node, ast.Compare):
            node.ops[0] = _FLIP[type(node.ops[0])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand  # ``not x`` becomes ``x``
        elif isinstance(node, ast.Constant):
            node.value = (not node.value) if type(node.value) is bool else node.value + 1
        elif isinstance(node, ast.Return):
            node.value = None
        return node


def mutants(module: str) -> list[Mutant]:
    """All mutants of one core module."""
    text = (ROOT / "src" / "blazen" / module).read_text()
    base = ast.unparse(ast.parse(text))
    out = []
    for i in range(sum(1 for _ in _sites(ast.parse(text)))):
        tree = ast.parse(text)
        node, what = list(_sites(tree))[i]
        line = getattr(node, "lineno", 0)
        source = ast.unparse(_Mutate(node).visit(tree))
        if source != base:
            out.append(Mutant(module, line, what, source))
    return out


def run(m: Mutant, timeout: float) -> bool:
    """True when the tests fail on the mutant (it is killed)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src)
        (src / "blazen" / m.module).write_text(m.source)
        env = {**os.environ, "PYTHONPATH": str(src), "CI": ""}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return True
        return proc.returncode != 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    every = [m for module in CORE for m in mutants(module)]
    picked = random.Random(args.seed).sample(every, min(args.sample, len(every)))
    print(f"{len(every)} mutants in {len(CORE)} core modules; running {len(picked)}", flush=True)
    killed = 0
    with ThreadPoolExecutor(args.jobs) as pool:
        for m, dead in zip(picked, pool.map(lambda m: run(m, args.timeout), picked), strict=True):
            killed += dead
            print(f"{'killed  ' if dead else 'SURVIVED'} {m.module}:{m.line} {m.what}", flush=True)
    print(f"score: {killed}/{len(picked)} killed = {killed / len(picked):.1%}")


if __name__ == "__main__":
    main()
