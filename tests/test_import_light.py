"""``import blazen`` stays light: no optional driver, CLI library or store backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

FORBIDDEN = {
    "asyncpg",
    "psycopg",
    "psycopg2",
    "redis",
    "typer",
    "rich",
    "sqlite3",
    "_sqlite3",
    "opentelemetry",  # blazen.otel is imported on the first run, never by ``import blazen``
}
# Store backends are imported by scheme on first use, never by ``import blazen``.
ALLOWED_STORE_MODULES = {"blazen.stores", "blazen.stores.base", "blazen.stores._codec"}

PROGRAM = """
import json, sys
import blazen
print(json.dumps(sorted(sys.modules)))
"""


def imported_by_import_blazen() -> set[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(out.stdout))


def test_import_blazen_is_light() -> None:
    modules = imported_by_import_blazen()
    assert "blazen" in modules
    heavy = {m for m in modules if m.split(".")[0] in FORBIDDEN}
    assert not heavy, f"import blazen pulled in {sorted(heavy)}"
    stores = {m for m in modules if m.startswith("blazen.stores")} - ALLOWED_STORE_MODULES
    assert not stores, f"import blazen pulled in store backends {sorted(stores)}"
    assert not {m for m in modules if m.startswith("blazen.cli")}
    assert "blazen.otel" not in modules
