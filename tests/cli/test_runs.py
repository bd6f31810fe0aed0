"""``blazen runs list|show|events|fork|export|delete`` against every durable backend."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from blazen import WorkflowSnapshot
from blazen.cli._target import load_workflow
from blazen.errors import RunStalledError

from .conftest import (
    EXAMPLE,
    PIPELINE,
    Blazen,
    CliStore,
    every_backend,
    flow,
    run_id_of,
    subprocess_env,
)

pytestmark = every_backend


@pytest.fixture
def pipeline_run(cli: Blazen) -> tuple[str, dict[str, object]]:
    """A completed durable run of the example with 3 documents: (run id, result)."""
    res = cli("run", PIPELINE, "--arg", "docs=3", "--arg", "delay=0", "--arg", "topic=cli")
    assert res.code == 0, res.err
    out = res.out
    result = json.loads(out[out.index("Result:") + len("Result:") : out.index("run id:")])
    return run_id_of(out), result


def test_list(cli: Blazen, pipeline_run: tuple[str, object], cli_store: CliStore) -> None:
    run_id, _ = pipeline_run
    failed = run_id_of(cli("run", flow("failing")).out)
    res = cli("runs", "list")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].split() == [
        "run",
        "id",
        "workflow",
        "status",
        "last",
        "seq",
        "created",
        "updated",
    ]
    assert lines[2].split()[:3] == [failed, "cli-failing", "failed"]  # newest first
    row = lines[3].split()
    assert row[:3] == [run_id, "durable-pipeline", "completed"]
    assert int(row[3]) >= 7
    assert lines[-1] == f"2 runs in {cli_store.label}"

    only = cli("runs", "list", "--status", "failed").out
    assert failed in only
    assert run_id not in only
    only = cli("runs", "list", "--workflow", "durable-pipeline").out
    assert run_id in only
    assert failed not in only
    assert "there are more: raise --limit" in cli("runs", "list", "-n", "1").out
    assert cli("runs", "list", "-n", "2").out.strip().endswith(f"2 runs in {cli_store.label}")
    assert len(json.loads(cli("runs", "list", "-n", "1", "--json").out)) == 1
    listed = json.loads(cli("runs", "list", "--json").out)
    assert [(r["run_id"], r["status"]) for r in listed] == [
        (failed, "failed"),
        (run_id, "completed"),
    ]


def test_show(cli: Blazen, pipeline_run: tuple[str, object]) -> None:
    run_id, _ = pipeline_run
    res = cli("runs", "show", run_id)
    assert res.code == 0, res.err
    out = res.out
    assert out.startswith(
        f"Run {run_id}\n  workflow    durable-pipeline\n  status      completed\n"
    )
    assert '  result      {"topic": "cli", "documents": 3' in out
    assert "Checkpoints" in out
    steps = [line.split()[1] for line in out.splitlines() if line[:1].isdigit()]
    history = steps[: len(steps) - steps[::-1].index("summarize")]
    assert history[-1] == "summarize"  # the step that returned the StopEvent: the last commit
    assert history[0] == "<create>"
    assert history[1] == "split"
    assert history.count("process") == 3
    assert history.count("summarize") == 3
    assert "Context at commit" in out
    context = {
        line.split()[0]: line.split()[1:3]
        for line in out[out.index("Context at commit") :].splitlines()[3:]
    }
    assert context["config"][0] == "json"
    assert context["doc/0/compressed"][0] == "bytes"
    assert context["doc/2/stats"][0] == "json"
    assert "78 da" in out  # the zlib header of a compressed blob, as hex


def test_events(cli: Blazen, pipeline_run: tuple[str, object]) -> None:
    run_id, _ = pipeline_run
    res = cli("runs", "events", run_id)
    assert res.code == 0, res.err
    rows = [line.split() for line in res.out.splitlines()[2:-1]]
    assert rows[0][:5] == ["0", "blazen::StartEvent", "-", "split", "seq"]
    assert "docs=3" in res.out
    assert 'topic="cli"' in res.out
    types = [r[1] for r in rows]
    assert types.count("DocumentEvent") == 3
    assert types.count("DocumentDone") == 3
    for r in rows:
        if r[1] == "DocumentEvent":
            assert r[2:4] == ["split", "process"]
    assert "pending" not in res.out.replace("0 pending", "")
    assert res.out.splitlines()[-1] == f"7 events of run {run_id}, 0 pending"


def test_events_shows_pending_ones(cli: Blazen) -> None:
    run_id = run_id_of(cli("run", flow("failing")).out)
    res = cli("runs", "events", run_id)
    assert res.code == 0, res.err
    assert "pending" in res.out.splitlines()[2]
    assert res.out.splitlines()[-1].endswith("1 pending")


def test_show_a_waiting_run_hides_the_engine_keys(cli: Blazen) -> None:
    run_id = run_id_of(cli("run", flow("ask"), "--no-input").out)
    res = cli("runs", "show", run_id)
    assert res.code == 0, res.err
    assert "waiting     name: What is your name?" in res.out
    assert "__blazen" not in res.out  # the wait is the engine's key, not the user's
    assert "Context at commit 2: empty" in res.out
    assert res.out.splitlines()[-1].startswith("1 event pending (see `blazen runs events ")


def _resume_in_subprocess(tmp_path: Path, snapshot: Path) -> object:
    code = (
        "import asyncio, json, sys\n"
        "import durable_pipeline\n"
        "from blazen import Workflow\n"
        "async def main():\n"
        f"    data = open({str(snapshot)!r}, 'rb').read()\n"
        "    handler = await Workflow.resume(data)\n"
        "    print(handler.run_id)\n"
        "    print(json.dumps((await handler.result()).result))\n"
        "asyncio.run(main())\n"
    )
    env = subprocess_env()
    env["PYTHONPATH"] += f"{':' if env['PYTHONPATH'] else ''}{EXAMPLE.parent}"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_id, result = proc.stdout.splitlines()
    return run_id, json.loads(result)


async def _resume_here(data: bytes) -> object:
    """``Workflow.resume`` of a snapshot of the example, in this process, without a store."""
    wf = load_workflow(PIPELINE)
    assert wf.store is None
    return (await (await wf.resume(data)).result()).result


def test_export_then_resume_gives_the_same_result(
    cli: Blazen, tmp_path: Path, pipeline_run: tuple[str, object]
) -> None:
    run_id, result = pipeline_run
    res = cli("runs", "export", run_id, "--seq", "2", "-o", "mid.msgpack")
    assert res.code == 0, res.err
    size = (tmp_path / "mid.msgpack").stat().st_size
    assert res.out.splitlines()[0] == f"wrote mid.msgpack ({size / 1024:.1f} KiB, {size} bytes)"
    assert f"run {run_id} at commit 2:" in res.out
    snap = WorkflowSnapshot.from_bytes((tmp_path / "mid.msgpack").read_bytes())
    assert (snap.run_id, snap.workflow_name) == (run_id, "durable-pipeline")
    assert snap.pending_events
    assert _resume_in_subprocess(tmp_path, tmp_path / "mid.msgpack") == (run_id, result)

    res = cli("runs", "export", run_id, "--seq", "0", "--json")
    assert res.code == 0, res.err
    exported = tmp_path / f"{run_id}-0.json"
    assert json.loads(exported.read_text())["run_id"] == run_id
    assert _resume_in_subprocess(tmp_path, exported) == (run_id, result)


def test_export_defaults_and_stdout(
    cli: Blazen, tmp_path: Path, pipeline_run: tuple[str, object]
) -> None:
    run_id, _ = pipeline_run
    res = cli("runs", "export", run_id)
    assert res.code == 0, res.err
    data = (tmp_path / f"{run_id}.msgpack").read_bytes()
    assert WorkflowSnapshot.from_bytes(data).run_id == run_id
    assert "note: nothing is left to run at this commit (the run had ended): resuming" in res.out
    assert "ends at once with RunStalledError" in res.out
    with pytest.raises(RunStalledError, match="no event is pending"):
        asyncio.run(_resume_here(data))
    res = cli("runs", "export", run_id, "--json", "-o", "-")
    assert res.code == 0, res.err
    assert json.loads(res.out)["workflow_name"] == "durable-pipeline"


def test_fork_from_a_checkpoint(
    cli: Blazen, tmp_path: Path, pipeline_run: tuple[str, object], cli_store: CliStore
) -> None:
    run_id, result = pipeline_run
    res = cli("runs", "fork", run_id[:8], PIPELINE, "--seq", "1")  # a prefix names the run
    assert res.code == 0, res.err
    assert f"Forked {run_id} into durable-pipeline" in res.out  # its full id is printed
    new_id = run_id_of(res.out)
    assert new_id != run_id
    out = res.out
    assert json.loads(out[out.index("Result:") + len("Result:") : out.index("run id:")]) == result
    assert "split" not in out  # the fork starts after the split step's commit
    assert out.count('Progress stage="process"') == 3
    show = cli("runs", "show", new_id).out
    assert f"forked from {run_id} at commit 1" in show
    assert {r.run_id: r.status for r in cli_store.records()} == {
        run_id: "completed",
        new_id: "completed",
    }


def test_fork_errors(cli: Blazen, pipeline_run: tuple[str, object]) -> None:
    run_id, _ = pipeline_run
    res = cli("runs", "fork", run_id, PIPELINE, "--seq", "999")
    assert res.code == 1
    assert res.err.startswith(f"error: run {run_id} has no commit 999 (its last is ")
    res = cli("runs", "fork", run_id, flow("echo"))
    assert res.code == 1
    assert "durable-pipeline" in res.err
    assert "Traceback" not in res.err


def test_delete(
    cli: Blazen, tmp_path: Path, pipeline_run: tuple[str, object], cli_store: CliStore
) -> None:
    run_id, _ = pipeline_run
    res = cli("runs", "delete", run_id, input="n\n")
    assert res.code == 1
    assert f"Delete run {run_id} (durable-pipeline, completed" in res.out
    assert "nothing deleted" in res.err
    assert len(cli_store.records()) == 1
    res = cli("runs", "delete", run_id, input="y\n")
    assert res.code == 0, res.err
    assert f"deleted run {run_id} from {cli_store.label}" in res.out
    assert cli_store.records() == []
    other = run_id_of(cli("run", flow("echo")).out)
    res = cli("runs", "delete", other, "--yes")
    assert (res.code, res.out.strip()) == (0, f"deleted run {other} from {cli_store.label}")
    assert cli_store.records() == []
