"""Which event values a run must hold as live references, and refusing them outside a run.

The Rust-core package encodes event data as JSON; a value that JSON cannot hold is kept in
the run's session-ref registry instead, which exists only while a step runs. blazen keeps
every value as it is, and applies the same rule at the same place: outside a run such a
value raises ``TypeError``; inside one it is recorded in the run's registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from blazen.session_refs import current_registry

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["admit_values", "live_values"]

_JSON_SCALARS = (str, int, float, Decimal)  # bool is an int; subclasses (enums...) count


def _fast_ok(value: Any) -> bool:
    t = type(value)
    return t is str or t is int or t is float or t is bool or value is None


def live_values(values: Iterable[Any]) -> list[Any]:
    """The values inside ``values`` (recursively through lists, tuples and dicts) that
    JSON cannot encode, in order. A structure nested too deeply counts as one such value.
    """
    out: list[Any] = []
    for value in values:
        if not _fast_ok(value):
            try:
                _collect(value, out)
            except RecursionError:
                out.append(value)
    return out


def _collect(value: Any, out: list[Any]) -> None:
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return
    if t is dict or (t is not list and t is not tuple and isinstance(value, dict)):
        for item in value.values():  # keys become strings in JSON, as upstream
            _collect(item, out)
    elif t is list or t is tuple or isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, out)
    elif not isinstance(value, _JSON_SCALARS):
        out.append(value)


def admit_values(event: BaseModel) -> None:
    """Check an event's values where it is built: register live ones with the current run,
    or raise ``TypeError`` when there is no run to hold them.
    """
    values = list(event.__dict__.values())
    extra = event.__pydantic_extra__
    if extra:
        values.extend(extra.values())
    if all(_fast_ok(v) for v in values):
        return
    registry = current_registry()
    if registry is None:
        if _in_step():
            return
        live = live_values(values)
        if live:
            raise TypeError(
                f"cannot serialize `{type(live[0]).__name__}` to JSON outside an active "
                f"workflow step. Construct the event inside a `@step`-decorated function so "
                f"non-JSON values can be kept as live references, or convert the value to "
                f"a JSON-serializable form first."
            )
        return
    for value in live_values(values):
        registry.insert(value)


def _in_step() -> bool:
    """Whether a step is running here (imported late: ``_call`` imports the events)."""
    from blazen._call import current_step

    return current_step.get() is not None
