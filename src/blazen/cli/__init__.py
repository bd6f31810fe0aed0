"""The ``blazen`` command: run workflows durably and inspect, resume, fork and export runs.

Needs the ``cli`` extra (``pip install 'pyblazen[cli]'``: typer and rich). Nothing else in
blazen imports this package, so ``import blazen`` never loads typer or rich.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_CLI_DEPS = frozenset({"typer", "rich", "click"})


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: run ``blazen`` with ``argv`` (default ``sys.argv[1:]``).

    Returns the exit code: 0 success, 1 failure, 2 bad usage, 3 paused waiting for input,
    130 interrupted.
    """
    try:
        from blazen.cli.app import run_app
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _CLI_DEPS:
            raise
        print(
            f"blazen: the command line needs typer and rich ({exc.name} is missing): "
            "pip install 'pyblazen[cli]'",
            file=sys.stderr,
        )
        return 1
    return run_app(argv)
