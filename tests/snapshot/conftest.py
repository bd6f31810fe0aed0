"""Shared fixture of the snapshot tests: a clean key environment."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("blazen") is None:  # not installed: test the checkout's src/
    sys.path.insert(0, str(REPO / "src"))

from blazen.session_refs import SessionRefRegistry, using_registry  # noqa: E402
from blazen.snapshot import KEY_ENV  # noqa: E402


@pytest.fixture(autouse=True)
def _as_inside_a_run() -> Iterator[None]:
    """Events holding bytes or objects are built only inside a run (as in the Rust core)."""
    with using_registry(SessionRefRegistry()):
        yield


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the developer's environment must not sign or reject the tests' snapshots."""
    monkeypatch.delenv(KEY_ENV, raising=False)
