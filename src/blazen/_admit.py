"""Which event values a run must hold as live references, and refusing them outside a run.

The Rust-core package encodes event data as JSON; a value that JSON cannot hold is kept in
the run's session-ref registry instead, which exists only while a step runs. blazen keeps
every value as it is, and applies the same rule at the same place: outside a run such a
value raises ``TypeError``; inside one it is recorded in the run's registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from blazen._call import current_step
from blazen.session_refs import current_registry

__all__ = ["admit_values", "live_values"]

_JSON_SCALARS = (str, int, float, Decimal)  # bool is an int; subclasses (enums...) count


def live_values(values: Iterable[Any]) -> list[Any]:
    """The values inside ``values`` (recursively through lists, tuples and dicts) that
    JSON cannot encode, in order. A structure nested too deeply counts as one such value.
    """
    out: list[Any] = []
    for value in values:
        t = type(value)
        if not (t is str or t is int or t is float or t is bool or value is None):
            try:
                _collect(value, out)
            except RecursionError:
                out.append(value)
    return out


def _collect(value: Any, out: list[Any]) -> None:
    t = type(value)
    items: Any
    if t is dict:
        items = value.values()  # keys become strings in JSON, as upstream
    elif t is list or t is tuple:
        items = value
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        if not isinstance(value, _JSON_SCALARS):
            out.append(value)
        return
    for item in items:
        ti = type(item)
        if not (ti is str or ti is int or ti is float or ti is bool or item is None):
            _collect(item, out)


def admit_values(values: Iterable[Any]) -> None:
    """Check the values given to an event where it is built: register live ones with the
    current run, or raise ``TypeError`` when there is no run to hold them.
    """
    live = live_values(values)
    if not live:
        return
    registry = current_registry()
    if registry is None:
        if current_step.get() is not None:
            return  # inside a step that the engine runs without a registry
        raise TypeError(
            f"cannot serialize `{type(live[0]).__name__}` to JSON outside an active "
            f"workflow step. Construct the event inside a `@step`-decorated function so "
            f"non-JSON values can be kept as live references, or convert the value to "
            f"a JSON-serializable form first."
        )
    for value in live:
        registry.insert(value)
