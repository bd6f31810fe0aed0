"""The viewer stays optional: neither ``import blazen`` nor the CLI loads it or its server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = {"starlette", "uvicorn", "jinja2", "httpx", "anyio"}


def _modules(statement: str) -> set[str]:
    program = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(out.stdout))


def test_import_blazen_loads_no_viewer_code() -> None:
    modules = _modules("import blazen")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not {m for m in modules if m.startswith("blazen.ui")}


def test_the_cli_loads_the_viewer_only_for_blazen_ui() -> None:
    modules = _modules("import blazen.cli.app")
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert not {m for m in modules if m.startswith("blazen.ui")}
