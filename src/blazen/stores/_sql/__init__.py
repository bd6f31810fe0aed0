"""SQL text shipped as package data: ``<backend>/NNNN_name.sql`` migrations, applied in order."""

from __future__ import annotations

from importlib import resources

__all__ = ["migrations"]


def migrations(backend: str) -> list[tuple[int, str]]:
    """``(number, script)`` of every ``<backend>/NNNN_*.sql`` file, in order."""
    folder = resources.files(__name__).joinpath(backend)
    found = [
        (int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8"))
        for item in folder.iterdir()
        if item.name.endswith(".sql")
    ]
    return sorted(found)
