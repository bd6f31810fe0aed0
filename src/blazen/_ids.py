"""Run ids: random (version 4) UUIDs as lowercase text, made without building a UUID object."""

from __future__ import annotations

import os

__all__ = ["new_run_id"]

_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_run_id() -> str:
    """A fresh UUID4 string, like ``str(uuid.uuid4())`` but cheaper (a run is made often)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
