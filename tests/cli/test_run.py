"""``blazen run`` and ``blazen runs resume``: durable runs, output, input, failures."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (
    PIPELINE,
    Blazen,
    CliStore,
    every_backend,
    flow,
    run_id_of,
    subprocess_env,
)

pytestmark = every_backend

EXPECTED_DIGESTS = 5


def test_readme_command_runs_durably(blazen: Blazen, tmp_path: Path, cli_store: CliStore) -> None:
    res = blazen("run", PIPELINE, "--arg", "docs=5", "--arg", "delay=0")
    assert res.code == 0, res.err
    out = res.out
    assert "Running durable-pipeline" in out
    assert f"store   {cli_store.label}" in out
    assert out.count('Progress stage="process"') == 5
    assert 'Progress stage="summarize" message="' in out
    assert "✔ completed" in out
    result = json.loads(out[out.index("Result:") + len("Result:") : out.index("run id:")])
    assert result["documents"] == 5
    assert len(result["digests"]) == EXPECTED_DIGESTS
    run_id = run_id_of(out)
    (record,) = cli_store.records()
    assert (record.run_id, record.workflow_name, record.status) == (
        run_id,
        "durable-pipeline",
        "completed",
    )
    assert record.last_seq >= 1 + 5 + 5  # split, 5 x process, 5 x summarize (+ the end)
    assert res.err == ""


def test_args_are_json_when_they_parse(cli: Blazen) -> None:
    res = cli(
        "run", flow("echo"), "-q",
        "--json-args", '{"j": {"k": [1, 2]}, "n": 1}',
        "--arg", "n=2", "--arg", "b=true", "--arg", "f=1.5", "--arg", 'q="5"',
        "--arg", "s=hello world", "--arg", "l=[1, \"a\"]", "--arg", "e=", "--arg", "nan=NaN",
        "--arg", "eq=a=b",
    )  # fmt: skip
    assert res.code == 0, res.err
    assert json.loads(res.out) == {
        "b": [True, "bool"],
        "e": ["", "str"],
        "eq": ["a=b", "str"],
        "f": [1.5, "float"],
        "j": [{"k": [1, 2]}, "dict"],
        "l": [[1, "a"], "list"],
        "n": [2, "int"],
        "nan": ["NaN", "str"],
        "q": ["5", "str"],
        "s": ["hello world", "str"],
    }


def test_module_target_and_factory(cli: Blazen, tmp_path: Path) -> None:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "flows.py").write_text(
        "from blazen import StartEvent, StopEvent, Workflow, step\n"
        "@step\n"
        "async def only(ctx, ev: StartEvent) -> StopEvent:\n"
        "    return StopEvent(result=ev.x * 2)\n"
        "def build():\n"
        "    return Workflow('cli-mypkg', [only])\n"
    )
    res = cli("run", "mypkg.flows:build", "--arg", "x=21", "-q")
    assert (res.code, res.out.strip()) == (0, "42"), res.err
    res = cli("run", flow("make_echo"), "--arg", "x=1", "-q")
    assert res.code == 0, res.err
    assert json.loads(res.out) == {"x": [1, "int"]}


def test_a_file_with_one_workflow_needs_no_attr(cli: Blazen, tmp_path: Path) -> None:
    (tmp_path / "single.py").write_text(
        "from blazen import StartEvent, StopEvent, Workflow, step\n"
        "@step\n"
        "async def only(ctx, ev: StartEvent) -> StopEvent:\n"
        "    return StopEvent(result='single')\n"
        "wf = Workflow('cli-single', [only])\n"
    )
    res = cli("run", "single.py", "-q")
    assert (res.code, res.out.strip()) == (0, '"single"'), res.err


def test_non_json_result_is_pretty_printed(cli: Blazen) -> None:
    res = cli("run", flow("odd"))
    assert res.code == 0, res.err
    assert "{'value': Odd()}" in res.out
    keys = cli("run", flow("odd"), "--arg", "keys=true", "-q")
    assert (keys.code, keys.out.strip()) == (0, "{1: 'one'}")  # not turned into {"1": "one"}


def test_wait_on_a_pickled_result_shows_it_without_unpickling(cli: Blazen) -> None:
    run_id = run_id_of(cli("run", flow("odd")).out)
    res = cli("runs", "wait", run_id, "-q")
    assert res.code == 0, res.err
    assert res.out.startswith("<pickled Python object, "), res.out
    assert "wf.wait(run_id) in Python gives it" in res.out


def test_failure_names_the_step_and_error(cli: Blazen, tmp_path: Path, cli_store: CliStore) -> None:
    res = cli("run", flow("failing"), "--arg", "why=testing")
    assert res.code == 1
    run_id = run_id_of(res.out)
    first = res.err.splitlines()[0]
    assert first == (f"error: run {run_id} failed in step 'explode': ValueError: boom (testing)")
    assert f"blazen runs resume {run_id} " in res.err
    assert "Traceback" not in res.err
    (record,) = cli_store.records()
    assert record.status == "failed"
    assert "boom (testing)" in (record.error or "")


def test_debug_shows_the_traceback(cli: Blazen) -> None:
    res = cli("--debug", "run", flow("failing"))
    assert res.code == 1
    assert "Traceback" in res.err
    assert 'raise ValueError(f"boom' in res.err


def test_resume_a_failed_run_after_the_fix(
    cli: Blazen, tmp_path: Path, cli_store: CliStore
) -> None:
    (tmp_path / "broken").write_text("")
    res = cli("run", flow("flaky"), "--arg", "n=20")
    assert res.code == 1
    assert "RuntimeError: the file 'broken' is in the way" in res.err
    run_id = run_id_of(res.out)
    (tmp_path / "broken").unlink()
    res = cli("runs", "resume", run_id, flow("flaky"), "-q")
    assert res.code == 0, res.err
    assert json.loads(res.out) == {"value": 41, "first_runs": 1}
    assert [r.status for r in cli_store.records()] == ["completed"]


def test_resume_after_the_process_died(blazen: Blazen, tmp_path: Path, cli_store: CliStore) -> None:
    (tmp_path / "crash").write_text("")
    res = blazen("run", flow("flaky"), "--arg", "n=5")
    assert res.code == 17  # os._exit in the second step
    (record,) = cli_store.records()
    assert record.status == "running"
    res = blazen("runs", "resume", record.run_id, flow("flaky"))
    assert res.code == 0, res.err
    assert "Resuming cli-flaky" in res.out
    assert '"first_runs": 1' in res.out  # the committed first step did not run again
    assert '"value": 11' in res.out
    (record,) = cli_store.records()
    assert record.status == "completed"


def test_resume_refuses_a_completed_run(cli: Blazen) -> None:
    run_id = run_id_of(cli("run", flow("echo")).out)
    res = cli("runs", "resume", run_id, flow("echo"))
    assert res.code == 1
    assert f"run {run_id} is already completed: there is nothing to resume" in res.err
    assert f"blazen runs fork {run_id}" in res.err


def test_resume_with_another_workflow_is_refused(cli: Blazen) -> None:
    run_id = run_id_of(cli("run", flow("echo")).out)
    res = cli("runs", "resume", run_id, flow("failing"))
    assert res.code == 1
    assert "cli-echo" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_human_input_from_stdin(blazen: Blazen, tmp_path: Path, cli_store: CliStore) -> None:
    res = blazen("run", flow("ask"), input="Ada\n")
    assert res.code == 0, res.err
    assert 'Note text="about to ask"' in res.out
    assert "? What is your name? Ada" in res.out
    assert '"hello, Ada"' in res.out
    assert [r.status for r in cli_store.records()] == ["completed"]


def test_no_input_pauses_then_resume_answers(
    cli: Blazen, tmp_path: Path, cli_store: CliStore
) -> None:
    res = cli("run", flow("ask"), "--no-input")
    assert res.code == 3
    run_id = run_id_of(res.out)
    assert f"⏸ paused run {run_id}, waiting for input 'name': What is your name?" in res.out
    assert f"blazen runs resume {run_id} {flow('ask')}" in res.out
    # Paused while waiting for input: the store says "waiting" (listed by `-s waiting`).
    assert [r.status for r in cli_store.records()] == ["waiting"]
    assert run_id in cli("runs", "list", "-s", "waiting").out
    show = cli("runs", "show", run_id)
    assert "waiting     name: What is your name?" in show.out
    res = cli("runs", "resume", run_id, flow("ask"), "-q", input="Grace\n")
    assert res.code == 0, res.err
    assert res.out.strip() == '"hello, Grace"'
    assert [r.status for r in cli_store.records()] == ["completed"]


def test_closed_stdin_pauses(cli: Blazen) -> None:
    res = cli("run", flow("ask"), input="")
    assert res.code == 3
    assert "(no input: stdin is closed)" in res.out


def test_quiet_prints_only_the_result(cli: Blazen) -> None:
    res = cli("run", PIPELINE, "--arg", "docs=2", "--arg", "delay=0", "--quiet")
    assert res.code == 0, res.err
    assert json.loads(res.out)["documents"] == 2
    assert res.err == ""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_pauses_the_run(tmp_path: Path, cli_store: CliStore) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "blazen.cli",
            "run",
            PIPELINE,
            "--arg",
            "docs=8",
            "--arg",
            "delay=0.3",
        ],
        cwd=tmp_path,
        env=subprocess_env(**cli_store.env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if 'stage="split"' in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted: pausing run" in err
    assert "⏸ paused run" in out
    (record,) = cli_store.records()
    assert record.status == "paused"
    resumed = subprocess.run(
        [sys.executable, "-m", "blazen.cli", "runs", "resume", record.run_id, PIPELINE, "-q"],
        cwd=tmp_path,
        env=subprocess_env(**cli_store.env()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["documents"] == 8


def test_fork_after_the_answer_does_not_ask_again(cli: Blazen) -> None:
    assert cli("run", flow("ask"), "-q", input="Ada\n").code == 0
    run_id = json.loads(cli("runs", "list", "--json").out)[0]["run_id"]
    res = cli("runs", "fork", run_id, flow("ask"), "--seq", "2", input="")  # 2: the answer
    assert "What is your name?" not in res.out
    assert res.code == 0, res.err
    assert '"hello, Ada"' in res.out
