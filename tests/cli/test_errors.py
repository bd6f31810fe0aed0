"""Bad input: one line on stderr naming the problem, exit code 2 (usage) or 1, no traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FLOWS, Blazen, CliStore, Result, every_backend, flow, records, subprocess_env


def _one_line_error(res: Result, code: int, *needles: str) -> None:
    assert res.code == code, (res.out, res.err)
    err = res.err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("target", "needles"),
    [
        ("nope.py:wf", ["bad TARGET 'nope.py:wf': no such file 'nope.py'"]),
        ("sub/dir/nope.py", ["no such file 'sub/dir/nope.py'"]),
        (f"{FLOWS}:missing", ["has no attribute 'missing'", "workflows there: ask, echo,"]),
        (f"{FLOWS}:not_a_workflow", ["not_a_workflow is an int, not a Workflow"]),
        (f"{FLOWS}:needs_an_argument", ["calling it with no arguments failed"]),
        (f"{FLOWS}:returns_a_number", ["returns_a_number() returned an int, not a Workflow"]),
        (f"{FLOWS}:Half", ["Half is the class Half, not a Workflow"]),
        (f"{FLOWS}:StartEvent", ["StartEvent is the class StartEvent, not a Workflow"]),
        (str(FLOWS), ["defines several workflows (ask, echo, failing, flaky, odd)"]),
        ("no_such_module:wf", ["no module named 'no_such_module'"]),
        ("no.such.module:wf", ["no module named 'no'"]),
        (":wf", ["bad TARGET ':wf'"]),
    ],
)
def test_bad_target(cli: Blazen, tmp_path: Path, target: str, needles: list[str]) -> None:
    _one_line_error(cli("run", target), 2, *needles)
    _one_line_error(cli("runs", "resume", "some-id", target), 2, *needles)
    assert not (tmp_path / "blazen.db").exists()


def test_target_that_fails_to_import(cli: Blazen, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import json\nraise RuntimeError('module is broken')\n")
    _one_line_error(
        cli("run", "broken.py:wf"), 1, "cannot import 'broken.py': RuntimeError: module is broken"
    )
    (tmp_path / "imports.py").write_text("import not_installed_anywhere\n")
    _one_line_error(cli("run", "imports:wf"), 1, "cannot import 'imports'", "not_installed")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--arg", "oops"], "bad --arg 'oops': expected NAME=VALUE"),
        (["--arg", "=1"], "bad --arg '=1': '' is not a valid argument name"),
        (["--arg", "a-b=1"], "'a-b' is not a valid argument name"),
        (["--json-args", "{bad"], "--json-args is not valid JSON"),
        (["--json-args", "[1, 2]"], "--json-args must be a JSON object, not list"),
        (["--json-args", '{"not ok": 1}'], "bad argument name 'not ok'"),
    ],
)
def test_bad_args(cli: Blazen, args: list[str], needle: str) -> None:
    _one_line_error(cli("run", flow("echo"), *args), 2, needle)


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--arg", f"x={DEEP}"], "bad --arg 'x=[[[[["),
        (["--json-args", f'{{"x": {DEEP}}}'], "bad --json-args: "),
    ],
    ids=["arg", "json-args"],
)
def test_json_nested_too_deeply_is_a_usage_error(
    blazen: Blazen, tmp_path: Path, args: list[str], needle: str
) -> None:
    res = blazen("run", flow("echo"), *args)
    _one_line_error(res, 2, needle, "the JSON value is nested too deeply to parse")
    assert len(res.err) < 300  # the value is not echoed back whole
    assert not (tmp_path / "blazen.db").exists()


@pytest.mark.parametrize("extra", [[], ["--submit"]], ids=["run", "submit"])
def test_arguments_that_do_not_fit_a_typed_start_event_are_a_usage_error(
    cli: Blazen, tmp_path: Path, extra: list[str]
) -> None:
    (tmp_path / "typed.py").write_text(
        "from blazen import Context, StartEvent, StopEvent, Workflow, step\n"
        "class Order(StartEvent):\n"
        "    qty: int\n"
        "@step\n"
        "async def go(ctx: Context, ev: Order) -> StopEvent:\n"
        "    return StopEvent(result=ev.qty)\n"
        "wf = Workflow('orders', [go])\n"
    )
    res = cli("run", "typed.py", "--arg", "qty=many", *extra)
    _one_line_error(res, 2, "the run's arguments do not fit Order: qty:", "check the --arg values")
    assert cli("run", "typed.py", "--arg", "qty=3", "-q").out.strip() == "3"


@pytest.mark.parametrize(
    "command",
    [["run", flow("echo")], ["runs", "list"], ["runs", "show", "x"], ["runs", "delete", "x"]],
    ids=["run", "list", "show", "delete"],
)
def test_an_empty_store_url_is_a_usage_error(
    cli: Blazen, tmp_path: Path, command: list[str]
) -> None:
    _one_line_error(cli(*command, "--store", ""), 2, "empty --store URL")
    _one_line_error(cli(*command, "--store", "  "), 2, "empty --store URL")
    assert not (tmp_path / "blazen.db").exists()


def test_a_corrupt_store_is_a_store_error_naming_the_file(cli: Blazen, tmp_path: Path) -> None:
    assert cli("run", flow("echo"), "--store", "flipped.db").code == 0
    path = tmp_path / "flipped.db"
    data = bytearray(path.read_bytes())
    data[data.find(b"CREATE TABLE blazen_meta") + 2] ^= 0x80  # one flipped bit in the schema
    path.write_bytes(bytes(data))
    for command in (["runs", "list"], ["runs", "show", "x"], ["run", flow("echo")]):
        _one_line_error(
            cli(*command, "--store", "flipped.db"),
            1,
            "cannot open 'flipped.db' as a blazen store: the file is corrupt",
        )


def test_a_redis_url_with_a_bad_database_is_refused(cli: Blazen) -> None:
    for command in (["runs", "list"], ["run", flow("echo")]):
        _one_line_error(
            cli(*command, "--store", "redis://127.0.0.1:6379/abc"),
            1,
            "bad database 'abc' in Redis store URL",
        )


@pytest.mark.parametrize(
    "command",
    [
        ["show", "nope"],
        ["events", "nope"],
        ["export", "nope"],
        ["delete", "nope", "--yes"],
        ["resume", "nope", flow("echo")],
        ["fork", "nope", flow("echo")],
    ],
)
@every_backend
def test_unknown_run_id(cli: Blazen, cli_store: CliStore, command: list[str]) -> None:
    assert cli("run", flow("echo")).code == 0  # the store exists
    _one_line_error(cli("runs", *command), 1, "unknown run id 'nope'", cli_store.label)


@pytest.mark.parametrize(
    "command",
    [
        ["show", "x"],
        ["events", "x"],
        ["export", "x"],
        ["delete", "x", "--yes"],
        ["resume", "x", flow("echo")],
        ["fork", "x", flow("echo")],
    ],
)
def test_missing_store_is_not_created(cli: Blazen, tmp_path: Path, command: list[str]) -> None:
    _one_line_error(cli("runs", *command), 1, "no blazen store at 'blazen.db'")
    assert not (tmp_path / "blazen.db").exists()


def test_store_files_that_are_not_blazen_stores(cli: Blazen, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("just text\n")
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for command in (["runs", "list"], ["runs", "show", "x"], ["run", flow("echo")]):
        _one_line_error(
            cli(*command, "--store", "notes.txt"), 1, "'notes.txt' is not a blazen store"
        )
        _one_line_error(
            cli(*command, "--store", "other.db"),
            1,
            "'other.db' is an SQLite database but not a blazen store",
        )
    assert (tmp_path / "notes.txt").read_text() == "just text\n"
    _one_line_error(cli("runs", "list", "--store", "foo://x"), 1, "unknown store scheme 'foo'")


def test_bad_options(cli: Blazen) -> None:
    _one_line_error(cli("runs", "list", "--status", "done"), 2, "bad --status 'done'")
    res = cli("runs", "show")
    assert res.code == 2
    assert "Missing argument 'RUN_ID'" in res.err
    assert cli("runs", "export", "x", "--seq", "-1").code == 2


def test_export_to_an_unwritable_path(cli: Blazen, tmp_path: Path) -> None:
    res = cli("run", flow("echo"), "-q")
    assert res.code == 0
    run_id = cli("runs", "list", "--json").out.split('"run_id": "')[1].split('"')[0]
    _one_line_error(
        cli("runs", "export", run_id, "-o", str(tmp_path / "no" / "dir.msgpack")),
        1,
        "cannot write",
    )


def test_entry_points(blazen: Blazen) -> None:
    res = blazen("--version")
    assert (res.code, res.out.startswith("blazen ")) == (0, True)
    res = blazen()
    assert res.code in (0, 2)  # no command: the help (click >= 8.2 exits with 2)
    assert "runs" in res.out + res.err
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from blazen.cli import main; raise SystemExit(main(['--version']))",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout.split()[0]) == (0, "blazen")


def test_import_blazen_does_not_load_the_cli() -> None:
    code = (
        "import sys, blazen, blazen.stores\n"
        "loaded = {'typer', 'rich', 'click', 'blazen.cli'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_without_the_cli_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['typer'] = None  # as if pyblazen[cli] were not installed\n"
        "from blazen.cli import main\n"
        "raise SystemExit(main(['runs', 'list']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "pip install 'pyblazen[cli]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_store_option_and_env(blazen: Blazen, tmp_path: Path) -> None:
    res = blazen("run", flow("echo"), "--store", "sqlite:///chosen.db", "-q")
    assert res.code == 0, res.err
    assert [r.status for r in records(tmp_path / "chosen.db")] == ["completed"]
    res = blazen("run", flow("echo"), "-q", env=subprocess_env(BLAZEN_STORE="from-env.db"))
    assert res.code == 0, res.err
    assert [r.status for r in records(tmp_path / "from-env.db")] == ["completed"]
    assert not (tmp_path / "blazen.db").exists()


def test_list_without_a_store(cli: Blazen, tmp_path: Path) -> None:
    res = cli("runs", "list")
    assert (res.code, res.out.strip()) == (0, "No runs: there is no store at blazen.db yet.")
    assert not (tmp_path / "blazen.db").exists()  # reading never creates the file
    assert cli("runs", "list", "--json").out.strip() == "[]"
