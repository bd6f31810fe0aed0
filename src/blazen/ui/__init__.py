"""``blazen ui``: a web viewer of the runs in a store (needs the ``ui`` extra).

``create_app(store)`` is a Starlette app: a runs list, a page per run (timeline, graph,
context at any commit, pending events, input requests) and, when enabled, actions.
Nothing in ``import blazen`` imports this package.
"""

from __future__ import annotations

from blazen.ui._actions import ActionError, ActionUnavailable, RunActions, RunControl, StoreActions
from blazen.ui._app import UiOptions, create_app

__all__ = [
    "ActionError",
    "ActionUnavailable",
    "RunActions",
    "RunControl",
    "StoreActions",
    "UiOptions",
    "create_app",
]
