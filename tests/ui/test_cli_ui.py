"""``blazen ui`` as a user starts it: option checks, and a real server on a free port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blazen.cli._ui import is_loopback

from .helpers import Server, cli_env, start_ui, stop

REPO = Path(__file__).resolve().parents[2]
TOKEN = "a-long-enough-token"


def blazen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blazen.cli", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
        timeout=60,
    )


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.1.2.3")
    assert is_loopback("::1")
    assert is_loopback("[::1]")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.0.2.7")
    assert not is_loopback("example.org")


def test_binding_elsewhere_needs_a_token(runs_db: tuple[Path, dict[str, str]]) -> None:
    res = blazen("ui", "--store", str(runs_db[0]), "--host", "0.0.0.0")
    assert res.returncode == 2
    assert "refusing to serve on 0.0.0.0 without --token" in res.stderr
    res = blazen("ui", "--store", str(runs_db[0]), "--host", "0.0.0.0", "--token", "short")
    assert res.returncode == 2
    assert "--token must be at least 8 characters long" in res.stderr


def test_a_missing_store_file_is_an_error(tmp_path: Path) -> None:
    res = blazen("ui", "--store", str(tmp_path / "nothing.db"))
    assert res.returncode == 1
    assert "nothing.db" in res.stderr


@pytest.fixture
def served(runs_db: tuple[Path, dict[str, str]]) -> Iterator[Server]:
    server = start_ui(runs_db[0], "--token", TOKEN)
    yield server
    stop(server)


def test_a_real_server_serves_the_runs_behind_its_token(
    served: Server, ids: dict[str, str]
) -> None:
    assert served.link.startswith("http://127.0.0.1:")
    assert served.link.endswith(f"/?token={TOKEN}")
    with httpx.Client(base_url=served.base, timeout=10) as http:
        assert http.get("/").status_code == 401
        assert http.get("/", headers={"Authorization": "Bearer wrong-token"}).status_code == 403
        res = http.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert res.status_code == 200
        assert {r["run_id"] for r in res.json()["runs"]} == set(ids.values())
        first = http.get(served.link)
        assert first.status_code == 303
        page = http.get(f"/runs/{ids['pipeline']}")  # the cookie the link set
        assert page.status_code == 200
        assert 'class="timeline"' in page.text
        assert http.post(f"/runs/{ids['pipeline']}/cancel").status_code == 403  # no actions


def test_a_loopback_server_refuses_foreign_host_headers(
    runs_db: tuple[Path, dict[str, str]],
) -> None:
    server = start_ui(runs_db[0])
    try:
        with httpx.Client(base_url=server.base, timeout=10) as http:
            assert http.get("/").status_code == 200
            assert http.get("/", headers={"Host": "rebound.example"}).status_code == 400
    finally:
        stop(server)
