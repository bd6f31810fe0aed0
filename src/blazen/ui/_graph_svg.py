"""A workflow graph description (``blazen.draw.describe``) laid out and drawn as inline SVG.

A small layered layout, enough for workflow-sized graphs and with no JavaScript: edges that
close a cycle are found by a depth-first walk from ``StartEvent`` and drawn on the side;
the rest rank nodes by their longest path from the start; a few barycentre sweeps order
each rank to cut crossings. Steps this run executed get the ``ran`` class and a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

__all__ = ["graph_svg"]

_CHAR_W = 7.0
_PAD_X = 22.0
_NODE_H = 30.0
_GAP_X = 26.0
_RANK_H = 74.0
_MARGIN = 16.0
_SIDE = 70.0  # room on the right for edges that close a cycle, and on the left for detours


@dataclass
class _Node:
    id: str
    label: str
    css: str
    rank: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0


def graph_svg(desc: Mapping[str, Any], executed: Mapping[str, int] | None = None) -> str:
    """The graph as an ``<svg>`` element; ``executed`` maps step name -> commits in this run."""
    ran = executed or {}
    nodes = _nodes(desc, ran)
    edges = [
        (str(e["source"]), str(e["target"]), str(e.get("kind", "")))
        for e in desc.get("edges", [])
        if e.get("source") in nodes and e.get("target") in nodes
    ]
    back = _back_edges(nodes, edges)
    _rank(nodes, [(s, t) for s, t, _ in edges if (s, t) not in back])
    ranks = _order(nodes, edges)
    width, height = _place(ranks)
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="workflow graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for source, target, kind in edges:
        a, b = nodes[source], nodes[target]
        side = _detour(ranks, a, b) if (source, target) not in back else None
        parts.append(_edge(a, b, kind, (source, target) in back, side))
    for node in nodes.values():
        parts.append(_node(node, ran))
    parts.append("</svg>")
    return "".join(parts)


def _nodes(desc: Mapping[str, Any], ran: Mapping[str, int]) -> dict[str, _Node]:
    nodes: dict[str, _Node] = {}
    for e in desc.get("events", []):
        kind = str(e.get("kind", "event"))
        css = "input" if kind.startswith("input") else kind
        label = str(e.get("label") or e["name"])
        nodes[f"event:{e['name']}"] = _Node(f"event:{e['name']}", label, f"g-{css}")
    for s in desc.get("steps", []):
        name = str(s["name"])
        css = "g-step" + (" ran" if name in ran else "")
        if s.get("emits") is None:
            css += " undeclared"
        label = name + (f"  ×{ran[name]}" if ran.get(name) else "")  # noqa: RUF001
        nodes[f"step:{name}"] = _Node(f"step:{name}", label, css)
    for node in nodes.values():
        node.w = len(node.label) * _CHAR_W + _PAD_X
    return nodes


def _back_edges(
    nodes: Mapping[str, _Node], edges: list[tuple[str, str, str]]
) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first walk (from StartEvent first)."""
    out: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t, _ in edges:
        out[s].append(t)
    state: dict[str, int] = {}  # 1 on the path, 2 done
    back: set[tuple[str, str]] = set()
    roots = sorted(nodes, key=lambda n: (n != "event:blazen::StartEvent", list(nodes).index(n)))
    for root in roots:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, i = stack[-1]
            if i < len(out[node]):
                stack[-1] = (node, i + 1)
                nxt = out[node][i]
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    return back


def _rank(nodes: Mapping[str, _Node], forward: list[tuple[str, str]]) -> None:
    """Longest-path ranks over the acyclic edges (Kahn's order)."""
    indeg = dict.fromkeys(nodes, 0)
    out: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in forward:
        out[s].append(t)
        indeg[t] += 1
    queue = [n for n in nodes if indeg[n] == 0]
    while queue:
        node = queue.pop(0)
        for nxt in out[node]:
            nodes[nxt].rank = max(nodes[nxt].rank, nodes[node].rank + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                queue.append(nxt)


def _order(nodes: Mapping[str, _Node], edges: list[tuple[str, str, str]]) -> list[list[_Node]]:
    """Nodes by rank, each rank ordered by the barycentre of its neighbours (a few sweeps)."""
    ranks: list[list[_Node]] = [
        [] for _ in range(max((n.rank for n in nodes.values()), default=0) + 1)
    ]
    for node in nodes.values():
        ranks[node.rank].append(node)
    for rank in ranks:
        for i, node in enumerate(rank):
            node.order = float(i)
    neighbours: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t, _ in edges:
        neighbours[s].append(t)
        neighbours[t].append(s)
    for sweep in range(4):
        sequence = ranks[1:] if sweep % 2 == 0 else list(reversed(ranks[:-1]))
        for rank in sequence:
            for node in rank:
                near = [nodes[n].order for n in neighbours[node.id] if nodes[n].rank != node.rank]
                if near:
                    node.order = sum(near) / len(near)
            rank.sort(key=lambda n: n.order)
            for i, node in enumerate(rank):
                node.order = float(i)
    return ranks


def _place(ranks: list[list[_Node]]) -> tuple[float, float]:
    """Coordinates: each rank a centred row; returns the drawing's width and height."""
    widths = [sum(n.w for n in rank) + _GAP_X * max(len(rank) - 1, 0) for rank in ranks]
    inner = max(widths, default=0.0)
    for rank, row_w in zip(ranks, widths, strict=True):
        x = _MARGIN + _SIDE + (inner - row_w) / 2
        for node in rank:
            node.x, node.y = x, _MARGIN + node.rank * _RANK_H
            x += node.w + _GAP_X
    height = _MARGIN * 2 + (len(ranks) - 1) * _RANK_H + _NODE_H
    return inner + 2 * _MARGIN + 2 * _SIDE, height


def _detour(ranks: list[list[_Node]], a: _Node, b: _Node) -> float | None:
    """For an edge that skips ranks: an x left of every node it would cross, else ``None``."""
    between = [n for rank in ranks[a.rank + 1 : b.rank] for n in rank]
    if not between:
        return None
    x1, x2 = a.x + a.w / 2, b.x + b.w / 2
    lo, hi = min(x1, x2), max(x1, x2)
    if not any(n.x - _GAP_X / 2 < hi and n.x + n.w + _GAP_X / 2 > lo for n in between):
        return None
    return min(n.x for n in between) - _GAP_X


def _edge(a: _Node, b: _Node, kind: str, back: bool, side: float | None = None) -> str:
    css = f"edge e-{escape(kind)}" + (" back" if back else "")
    if side is not None:
        x1, y1 = a.x + a.w / 2, a.y + _NODE_H
        x2, y2 = b.x + b.w / 2, b.y - 2
        d = (
            f"M{x1:.1f},{y1:.1f} C{side:.1f},{y1 + _RANK_H:.1f} "
            f"{side:.1f},{y2 - _RANK_H:.1f} {x2:.1f},{y2:.1f}"
        )
    elif back:
        x1, y1 = a.x + a.w, a.y + _NODE_H / 2
        x2, y2 = b.x + b.w, b.y + _NODE_H / 2
        reach = max(x1, x2) + _SIDE * 0.8
        d = f"M{x1:.1f},{y1:.1f} C{reach:.1f},{y1:.1f} {reach:.1f},{y2:.1f} {x2 + 2:.1f},{y2:.1f}"
    else:
        x1, y1 = a.x + a.w / 2, a.y + _NODE_H
        x2, y2 = b.x + b.w / 2, b.y - 2
        mid = (y1 + y2) / 2
        d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
    return f'<path class="{css}" d="{d}" marker-end="url(#arrow)"/>'


def _node(node: _Node, ran: Mapping[str, int]) -> str:
    round_r = _NODE_H / 2 if "g-step" not in node.css else 6
    title = node.id.partition(":")[2]
    if node.id.startswith("step:") and title in ran:
        title += f" — {ran[title]} commit(s) in this run"
    return (
        f'<g class="node {node.css}" data-node="{escape(node.id)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.w:.1f}" height="{_NODE_H:.0f}" '
        f'rx="{round_r:.0f}"/>'
        f'<text x="{node.x + node.w / 2:.1f}" y="{node.y + _NODE_H / 2 + 4:.1f}" '
        f'text-anchor="middle">{escape(node.label)}</text></g>'
    )
