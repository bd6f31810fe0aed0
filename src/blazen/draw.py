"""Workflow graphs: a JSON-able description of steps and event types, as Mermaid or DOT text.

``describe(graph)`` is what durable runs store in their metadata (under ``"graph"``), so a
viewer can draw a run's graph without importing the workflow's code; ``to_mermaid`` and
``to_dot`` render such a description. Nodes are steps (``"step:NAME"``) and event types
(``"event:TYPE"``); edges go from an event type to the steps that accept it, and from a
step to the event types it returns (its return annotation) or declares (``emits=``, e.g.
the targets of its ``ctx.send_event`` calls). An ``InputRequestEvent`` leads to the
``InputResponseEvent`` a human sends back.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable
from typing import Any, Literal

from blazen._graph import Graph
from blazen.errors import WorkflowError
from blazen.events import Event, InputRequestEvent, InputResponseEvent, StartEvent, StopEvent
from blazen.step import StepSpec

__all__ = ["FORMAT_VERSION", "GraphFormat", "describe", "render", "to_dot", "to_mermaid"]

FORMAT_VERSION = 1
"""Version of the description's layout (``desc["version"]``)."""

GraphFormat = Literal["mermaid", "dot"]

_KINDS = {
    StartEvent.event_type: "start",
    StopEvent.event_type: "stop",
    InputRequestEvent.event_type: "input_request",
    InputResponseEvent.event_type: "input_response",
}
# StepSpec fields that are the step's shape, not its options.
_STRUCTURAL = frozenset({"name", "fn", "accepts", "event_classes", "emits", "is_async"})


def describe(graph: Graph, *, name: str | None = None) -> dict[str, Any]:
    """The graph as plain JSON data: ``{"version", "workflow", "steps", "events", "edges"}``."""
    steps = [_describe_step(spec) for spec in graph.steps.values()]
    types: dict[str, None] = dict.fromkeys([StartEvent.event_type])
    edges: list[dict[str, str]] = []
    for spec in graph.steps.values():
        for etype in spec.accepts:
            types[etype] = None
            edges.append(_edge(_event_id(etype), _step_id(spec.name), "accepts"))
    for spec in graph.steps.values():
        returned = _returned_types(spec)
        declared = list(spec.emits or ())
        # emits= adds to the return annotation: a step may return one type and send another.
        for etype in declared + [t for t in returned if t not in declared]:
            types[etype] = None
            kind = "returns" if etype in returned else "emits"
            edges.append(_edge(_step_id(spec.name), _event_id(etype), kind))
    types[StopEvent.event_type] = None
    if InputRequestEvent.event_type in types and InputResponseEvent.event_type in types:
        edges.append(
            _edge(_event_id(InputRequestEvent.event_type), _event_id(InputResponseEvent.event_type))
        )
    return {
        "version": FORMAT_VERSION,
        "workflow": name,
        "steps": steps,
        "events": [_describe_event(etype, graph.classes.get(etype)) for etype in types],
        "edges": edges,
    }


def _edge(source: str, target: str, kind: str = "input") -> dict[str, str]:
    return {"source": source, "target": target, "kind": kind}


def _step_id(name: str) -> str:
    return f"step:{name}"


def _event_id(event_type: str) -> str:
    return f"event:{event_type}"


def _describe_step(spec: StepSpec) -> dict[str, Any]:
    """A step's accepted and emitted types and its non-default options."""
    options: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if f.name in _STRUCTURAL:
            continue
        value = getattr(spec, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if value != default:
            options[f.name] = _jsonable(value)
    fn = spec.fn
    where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', spec.name)}"
    return {
        "name": spec.name,
        "function": where,
        "accepts": list(spec.accepts),
        "emits": None if spec.emits is None else list(spec.emits),
        "async": spec.is_async,
        "options": options,
    }


def _describe_event(event_type: str, cls: type[Event] | None) -> dict[str, Any]:
    fields: list[str] = []
    where = None
    if cls is not None:
        where = f"{cls.__module__}.{cls.__qualname__}"
        fields = [f for f in cls.model_fields if f != "event_type"]
    label = event_type.removeprefix("blazen::")
    if cls is not None and cls.__name__ != label:
        label = f"{cls.__name__} ({label})"  # a typed start event: Order (StartEvent)
    return {
        "name": event_type,
        "label": label,
        "kind": _KINDS.get(event_type, "event"),
        "class": where,
        "fields": fields,
    }


def _jsonable(value: Any) -> Any:
    """Option values as JSON: exception classes by name, containers as lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type):
        return value.__qualname__
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _returned_types(spec: StepSpec) -> list[str]:
    """Event types named by the step function's return annotation (best effort)."""
    fn = spec.fn
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        raw = getattr(fn, "__annotations__", {}).get("return")
        if not isinstance(raw, str):
            return []
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", raw))
        return list(dict.fromkeys(c.event_type for c in spec.event_classes if c.__name__ in names))
    if hint is None:
        return []
    return list(dict.fromkeys(c.event_type for c in _event_classes_in(hint)))


def _event_classes_in(hint: Any) -> list[type[Event]]:
    if isinstance(hint, type) and typing.get_origin(hint) is None:  # not list[X] on 3.10
        return [hint] if issubclass(hint, Event) and hint is not Event else []
    return [c for arg in typing.get_args(hint) for c in _event_classes_in(arg)]


# -- Mermaid -------------------------------------------------------------------------------

_MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    "step": ('["', '"]'),
    "start": ('(["', '"])'),
    "stop": ('(["', '"])'),
    "input_request": ('{{"', '"}}'),
    "input_response": ('{{"', '"}}'),
    "event": ('("', '")'),
}
_MERMAID_ARROWS = {
    "accepts": "-->",
    "returns": "-->",
    "emits": "-.->|emits|",
    "input": "-.->|answer|",
}
_MERMAID_CLASSES = {
    "step": "fill:#dbeafe,stroke:#1d4ed8,color:#0f172a",
    "start": "fill:#dcfce7,stroke:#15803d,color:#0f172a",
    "stop": "fill:#fee2e2,stroke:#b91c1c,color:#0f172a",
    "input": "fill:#fef3c7,stroke:#b45309,color:#0f172a",
    "event": "fill:#f1f5f9,stroke:#64748b,color:#0f172a",
    "undeclared": "fill:#dbeafe,stroke:#1d4ed8,stroke-dasharray:4 3,color:#0f172a",
}


def to_mermaid(desc: dict[str, Any]) -> str:
    """A Mermaid ``flowchart`` of a description made by :func:`describe`."""
    ids = _short_ids(desc)
    lines = ["flowchart TD"]
    for node_id, label, kind, css in _nodes(desc):
        left, right = _MERMAID_SHAPES[kind]
        lines.append(f"  {ids[node_id]}{left}{_mermaid_text(label)}{right}:::{css}")
    for edge in desc["edges"]:
        arrow = _MERMAID_ARROWS.get(edge["kind"], "-->")
        lines.append(f"  {ids[edge['source']]} {arrow} {ids[edge['target']]}")
    for css, style in _MERMAID_CLASSES.items():
        lines.append(f"  classDef {css} {style}")
    return "\n".join(lines) + "\n"


def _mermaid_text(label: str) -> str:
    out = label.replace("#", "#35;").replace('"', "#quot;")
    return out.replace("<", "#lt;").replace(">", "#gt;")


def _short_ids(desc: dict[str, Any]) -> dict[str, str]:
    """Node id -> a Mermaid/DOT-safe identifier (``s0``, ``e3``...)."""
    ids: dict[str, str] = {}
    for i, s in enumerate(desc["steps"]):
        ids[_step_id(s["name"])] = f"s{i}"
    for i, e in enumerate(desc["events"]):
        ids[_event_id(e["name"])] = f"e{i}"
    return ids


def _nodes(desc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(node id, label, shape kind, style class)`` for every node, events first."""
    out: list[tuple[str, str, str, str]] = []
    for e in desc["events"]:
        kind = e["kind"]
        css = "input" if kind.startswith("input") else kind
        out.append((_event_id(e["name"]), e["label"], kind, css))
    for s in desc["steps"]:
        css = "step" if s["emits"] is not None else "undeclared"
        out.append((_step_id(s["name"]), _step_label(s), "step", css))
    return out


def _step_label(step_desc: dict[str, Any]) -> str:
    opts = step_desc.get("options") or {}
    notes = [f"{k}={v}" for k, v in opts.items() if k in ("retries", "timeout", "max_concurrency")]
    return str(step_desc["name"]) + (f" ({', '.join(notes)})" if notes else "")


# -- DOT -----------------------------------------------------------------------------------

_DOT_NODE = {
    "step": 'shape=box, style="rounded,filled", fillcolor="#dbeafe", color="#1d4ed8"',
    "undeclared": 'shape=box, style="rounded,filled,dashed", fillcolor="#dbeafe", color="#1d4ed8"',
    "start": 'shape=oval, style=filled, fillcolor="#dcfce7", color="#15803d"',
    "stop": 'shape=oval, style=filled, fillcolor="#fee2e2", color="#b91c1c"',
    "input": 'shape=hexagon, style=filled, fillcolor="#fef3c7", color="#b45309"',
    "event": 'shape=note, style=filled, fillcolor="#f1f5f9", color="#64748b"',
}
_DOT_EDGE = {"emits": ' [style=dashed, label="emits"]', "input": ' [style=dotted, label="answer"]'}


def to_dot(desc: dict[str, Any]) -> str:
    """A Graphviz ``digraph`` of a description made by :func:`describe`."""
    title = desc.get("workflow") or "workflow"
    lines = [
        f"digraph {_dot_quote(str(title))} {{",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#475569"];',
    ]
    for node_id, label, _, css in _nodes(desc):
        lines.append(f"  {_dot_quote(node_id)} [label={_dot_quote(label)}, {_DOT_NODE[css]}];")
    for edge in desc["edges"]:
        attrs = _DOT_EDGE.get(edge["kind"], "")
        lines.append(f"  {_dot_quote(edge['source'])} -> {_dot_quote(edge['target'])}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {"mermaid": to_mermaid, "dot": to_dot}


def render(desc: dict[str, Any], format: str = "mermaid") -> str:
    """``to_mermaid`` or ``to_dot`` by name; ``WorkflowError`` for another format."""
    renderer = _RENDERERS.get(format)
    if renderer is None:
        raise WorkflowError(
            f"unknown graph format {format!r}: expected one of {', '.join(_RENDERERS)}"
        )
    text: str = renderer(desc)
    return text
