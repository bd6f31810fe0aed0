"""Reading the viewer's HTML in tests: the cells of a table, the text of an element."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class _Tables(HTMLParser):
    """Collects the body rows (cell texts) of the table with a given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # > 0 inside the wanted table
        self.in_body = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            if self.depth or dict(attrs).get("id") == self.table_id:
                self.depth += 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = True
        elif self.depth == 1 and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and self.in_body and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = False
        elif self.depth == 1 and tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The text of each cell of each body row of ``<table id=table_id>``."""
    parser = _Tables(table_id)
    parser.feed(html)
    return parser.rows


def cli_env() -> dict[str, str]:
    """The environment of a ``blazen`` subprocess: this checkout's sources, no colours."""
    env = {k: v for k, v in os.environ.items() if k not in ("BLAZEN_STORE", "BLAZEN_UI_TOKEN")}
    env.update(PYTHONPATH=str(REPO / "src"), NO_COLOR="1", COLUMNS="200", PYTHONUNBUFFERED="1")
    return env


class Server:
    """A ``blazen ui`` process and the link it printed."""

    def __init__(self, proc: subprocess.Popen[str], link: str) -> None:
        self.proc = proc
        self.link = link
        self.base = link.split("?")[0].rstrip("/")


def start_ui(store: Path, *extra: str) -> Server:
    """Start ``blazen ui --port 0`` and read the address it prints once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "blazen.cli", "ui", "--store", str(store), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(),
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # blocks until the server prints (or exits)
        seen.append(line)
        if line.strip().startswith("open http://"):
            return Server(proc, line.split("open ", 1)[1].strip())
    proc.wait(timeout=10)
    raise AssertionError("blazen ui did not start:\n" + "".join(seen))


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        if server.proc.stdout is not None:
            server.proc.stdout.close()
