"""The Redis store's Lua scripts, shipped as package data (``<name>.lua``)."""

from __future__ import annotations

from importlib import resources

__all__ = ["script"]


def script(name: str) -> str:
    """The text of ``<name>.lua``."""
    return resources.files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
