"""Shared test setup: ``src/`` on the path (when blazen is not installed) and a bare context."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if importlib.util.find_spec("blazen") is None and _SRC not in sys.path:
    # Not installed: test the checkout. An installed blazen (this checkout in editable
    # mode, or the Rust-core package that tests/compat is also run against) is kept.
    sys.path.insert(0, _SRC)

from blazen import Context  # noqa: E402


@pytest.fixture
def ctx() -> Context:
    """A real ``Context`` not attached to a run (for the pure key-value behaviour)."""
    return Context(str(uuid.uuid4()))
