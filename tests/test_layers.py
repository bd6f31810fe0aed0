"""The package has no import cycle: every module imports only modules below it.

Every ``import`` counts, wherever it stands (top level, inside a function, or under
``TYPE_CHECKING``), so a cycle cannot hide behind a function-local import.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "blazen"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The blazen modules ``path`` imports (a package import counts as its ``__init__``;
    ``import a.b`` and ``from a import b`` of a submodule count as ``a.b`` alone)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` depends on the submodule; ``from pkg import Name`` on pkg.
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in subs if t in modules] or [base]
            if len(targets) < len(subs):
                targets.append(base)
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ re-exports its modules; a module importing its own package's
    # __init__ would be a cycle too, and is caught like any other.
    assert _cycles(graph) == []


def test_the_finder_sees_function_local_imports(tmp_path: Path) -> None:
    # The detector itself: a cycle made only by a function-local import is found.
    pkg = tmp_path / "blazen"
    pkg.mkdir()
    (pkg / "a.py").write_text("import blazen.b\n")
    (pkg / "b.py").write_text("def f():\n    from blazen import a\n")
    modules = {"blazen.a", "blazen.b"}
    graph = {m: _imports_from(pkg / f"{m[-1]}.py", tmp_path, modules) for m in sorted(modules)}
    assert _cycles(graph) == [["blazen.a", "blazen.b"]]


def _imports_from(path: Path, root: Path, modules: set[str]) -> set[str]:
    global SRC
    saved, SRC = SRC, root
    try:
        return _imports(path, modules)
    finally:
        SRC = saved


def test_the_core_does_not_import_backends_or_the_cli() -> None:
    graph = _graph()
    outer = {m for m in graph if m.startswith(("blazen.cli", "blazen.ui"))}
    outer |= {f"blazen.stores.{b}" for b in ("memory", "sqlite", "postgres", "redis")}
    core = {
        m
        for m in graph
        if m not in outer and not m.startswith(("blazen.stores.", "blazen.cli", "blazen.ui"))
    }
    for module in sorted(core):
        assert not graph[module] & outer, (module, sorted(graph[module] & outer))
