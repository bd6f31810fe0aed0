"""The ``collect_events`` buffers: fan-in of events by type, in the order they arrived."""

from __future__ import annotations

from typing import Any

from blazen.errors import ContextError
from blazen.events import Event

__all__ = ["collect"]


def _expected_names(event: object, expected: object) -> list[str]:
    """Validate ``collect_events`` arguments: an event, and a list of event types or names."""
    if not isinstance(event, Event):
        raise ContextError(f"collect_events needs an Event, not {type(event).__name__}")
    if isinstance(expected, (str, bytes)) or not isinstance(expected, (list, tuple)):
        raise ContextError(
            f"collect_events needs a list of event classes or type names, got {expected!r}"
        )
    names = []
    for e in expected:
        if isinstance(e, str) and e:
            names.append(e)
        elif isinstance(e, type) and issubclass(e, Event):
            names.append(e.event_type)
        else:
            raise ContextError(f"collect_events: {e!r} is not an Event class or type name")
    if not names:
        raise ContextError("collect_events needs at least one expected event type")
    return names


def collect(
    buffers: dict[str, list[Event]], event: Any, expected: Any
) -> tuple[Event, list[Event] | None]:
    """Buffer ``event``; once the ``expected`` types are all there, take and return them.

    ``expected`` lists event classes or type names, repeats meaning "that many"; the taken
    events come back in the listed order. Returns ``(event, taken or None)``.
    """
    names = _expected_names(event, expected)
    if event.event_type not in names:
        raise ContextError(f"collect_events got a {event.event_type!r} event but expects {names}")
    buffers.setdefault(event.event_type, []).append(event)
    need: dict[str, int] = {}
    for n in names:
        need[n] = need.get(n, 0) + 1
    if any(len(buffers.get(n, ())) < c for n, c in need.items()):
        return event, None
    taken = {n: buffers[n][:c] for n, c in need.items()}
    for n, c in need.items():
        rest = buffers[n][c:]
        if rest:
            buffers[n] = rest
        else:
            del buffers[n]
    return event, [taken[n].pop(0) for n in names]
