"""The viewer's pages and JSON endpoints over a real SQLite store holding real runs."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from starlette.testclient import TestClient

from .conftest import MakeClient
from .flows import UNPICKLED
from .helpers import table_rows


def _run_ids_in_list(html: str) -> list[str]:
    return [row[0] for row in table_rows(html, "runs")]


def test_runs_list_shows_every_run_newest_first(client: TestClient, ids: dict[str, str]) -> None:
    res = client.get("/")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    rows = {row[0]: row for row in table_rows(res.text, "runs")}
    assert _run_ids_in_list(res.text) == [ids["asking"], ids["failed"], ids["pipeline"]]
    _run_id, workflow, status, _created, _updated, _duration, commits, last_step = rows[
        ids["pipeline"]
    ]
    assert (workflow, status, last_step) == ("ui-pipeline", "completed", "collect")
    assert int(commits) == 8  # <create>, fan_out, 3 work, 3 collect (the last ends the run)
    assert rows[ids["failed"]][1:3] == ["ui-failing", "failed"]
    assert rows[ids["asking"]][1:3] == ["ui-asking", "waiting"]  # paused while waiting
    assert f'href="/runs/{ids["pipeline"]}"' in res.text


def test_runs_list_filters_by_workflow_and_status(client: TestClient, ids: dict[str, str]) -> None:
    assert _run_ids_in_list(client.get("/?workflow=ui-failing").text) == [ids["failed"]]
    assert _run_ids_in_list(client.get("/?status=completed").text) == [ids["pipeline"]]
    res = client.get("/?workflow=ui-pipeline&status=failed")
    assert table_rows(res.text, "runs") == [["No runs match these filters."]]
    # the filter menu offers every workflow of the store, and keeps the choice
    assert '<option value="ui-asking">' in res.text
    assert '<option value="ui-pipeline" selected>' in res.text


def test_runs_list_pages(make_client: MakeClient, ids: dict[str, str]) -> None:
    client = make_client(page_size=2)
    first = client.get("/")
    assert _run_ids_in_list(first.text) == [ids["asking"], ids["failed"]]
    assert 'href="/?page=1" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    second = client.get("/?page=1")
    assert _run_ids_in_list(second.text) == [ids["pipeline"]]
    assert 'href="/?page=0" rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    api = client.get("/api/runs?page=1").json()
    assert [r["run_id"] for r in api["runs"]] == [ids["pipeline"]]
    assert api["has_more"] is False
    assert client.get("/api/runs").json()["has_more"] is True


def test_runs_list_rejects_bad_filters(client: TestClient) -> None:
    res = client.get("/?status=exploded")
    assert res.status_code == 400
    assert "unknown status &#39;exploded&#39;" in res.text
    res = client.get("/api/runs?page=-1")
    assert res.status_code == 400
    assert res.json() == {"error": "bad page number '-1'"}


def test_runs_json_has_what_the_live_refresh_needs(client: TestClient, ids: dict[str, str]) -> None:
    runs = client.get("/api/runs?status=failed").json()["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert run["run_id"] == ids["failed"]
    assert run["workflow"] == "ui-failing"
    assert run["status"] == "failed"
    assert "boom: the disk is full" in run["error"]
    assert run["duration"] >= 0
    assert run["updated_at"] >= run["created_at"]
    assert set(run) >= {"last_seq", "last_step"}


def test_run_page_shows_the_timeline_with_a_bar_per_commit(
    client: TestClient, ids: dict[str, str]
) -> None:
    run_id = ids["pipeline"]
    res = client.get(f"/runs/{run_id}")
    assert res.status_code == 200
    checkpoints = table_rows(res.text, "checkpoints")
    steps = [row[1] for row in checkpoints]
    assert steps[0] == "<create>"
    assert steps[-1] == "collect"  # the step that returned the StopEvent commits the result
    assert steps.count("work") == 3
    timeline = re.search(r'<svg class="timeline".*?</svg>', res.text, re.S)
    assert timeline is not None
    svg = timeline.group(0)
    # every commit is a clickable bar (engine commits are ticks) on its step's lane
    assert len(re.findall(r'<a href="[^"]*\?seq=\d+" data-seq=', svg)) == len(checkpoints)
    assert svg.count('class="bar"') == 7  # fan_out, 3 work, 3 collect
    for lane in ("run", "fan_out", "work", "collect"):
        assert f">{lane}</text>" in svg


def test_run_page_shows_the_context_with_changes_and_never_unpickles(
    client: TestClient, ids: dict[str, str]
) -> None:
    run_id = ids["pipeline"]
    last = client.get(f"/runs/{run_id}")
    context = {row[0]: row for row in table_rows(last.text, "context")}
    assert context["scratch"][1] == "removed"  # deleted by the last commit
    _, change, kind, size, value = context["blob/1"]
    assert (change, kind, size) == ("same", "bytes", "40 B")
    assert value.startswith("40 B: 01 02 03 04")
    _, change, kind, size, value = context["trap/2"]
    assert kind == "native"
    assert re.match(r"pickled (tests\.)?ui\.flows\._sprung, 48 B$", value)
    assert UNPICKLED == []
    assert context["config"][2] == "json"
    assert '"label": "squares"' in unescape(last.text)
    # the commit that deleted "scratch" shows it as removed
    checkpoints = table_rows(last.text, "checkpoints")
    deleting = next(
        int(row[0]) for row in checkpoints if "scratch" in row[5] and row[1] == "collect"
    )
    at = client.get(f"/runs/{run_id}?seq={deleting}")
    rows = {row[0]: row for row in table_rows(at.text, "context")}
    assert rows["scratch"][1:] == ["removed", "-", "-", "removed at this commit"]
    assert rows["config"][1] == "same"
    first = client.get(f"/runs/{run_id}?seq=1")
    rows = {row[0]: row for row in table_rows(first.text, "context")}
    assert rows["config"][1] == "added"
    assert rows["scratch"][1] == "added"
    assert f"Context at commit 1 <small>(of {len(checkpoints) - 1})</small>" in first.text


def test_run_page_shows_pending_events_at_a_commit(client: TestClient, ids: dict[str, str]) -> None:
    res = client.get(f"/runs/{ids['pipeline']}?seq=1")
    pending = table_rows(res.text, "pending")
    assert [row[1] for row in pending] == ["Item", "Item", "Item"]
    assert {row[2] for row in pending} == {"fan_out"}
    assert {row[3] for row in pending} == {"work"}
    assert '"n": 2' in unescape(res.text)
    zero = client.get(f"/runs/{ids['pipeline']}?seq=0")
    assert [row[1] for row in table_rows(zero.text, "pending")] == ["blazen::StartEvent"]
    assert '"count": 3' in unescape(zero.text)
    assert table_rows(zero.text, "context") == [["The context is empty at this commit."]]


def test_run_page_of_a_failed_run_shows_the_error(client: TestClient, ids: dict[str, str]) -> None:
    res = client.get(f"/runs/{ids['failed']}")
    assert res.status_code == 200
    error = re.search(r'<div class="run-error" id="run-error">(.*?)</div>', res.text, re.S)
    assert error is not None
    assert "boom: the disk is full" in error.group(1)
    assert "step &#39;explode&#39; failed" in error.group(1)
    assert 'class="tick failed"' in res.text  # the <end> commit
    assert 'class="bar failed"' in res.text  # the delivery explode failed on
    assert '<span class="status s-failed" id="run-status">failed</span>' in res.text


def test_run_page_shows_open_input_requests(client: TestClient, ids: dict[str, str]) -> None:
    res = client.get(f"/runs/{ids['asking']}")
    section = re.search(r'<section id="input-requests">(.*?)</section>', res.text, re.S)
    assert section is not None
    text = section.group(1)
    assert "approve" in text
    assert "Ship it? &lt;yes/no&gt;" in text  # escaped
    assert "ask" in text
    assert '"risk": "low"' in unescape(text)
    assert "/respond" not in text  # no answer form without --allow-actions
    done = client.get(f"/runs/{ids['pipeline']}")
    assert 'id="input-requests"' not in done.text


def test_run_page_draws_the_graph_with_executed_steps(
    client: TestClient, ids: dict[str, str]
) -> None:
    res = client.get(f"/runs/{ids['pipeline']}")
    graph = re.search(r'<svg class="graph".*?</svg>', res.text, re.S)
    assert graph is not None
    svg = graph.group(0)
    for name in ("fan_out", "work", "collect"):
        assert re.search(rf'<g class="node g-step ran[^"]*" data-node="step:{name}">', svg)
    assert 'data-node="event:Item"' in svg
    assert "work  ×3" in svg  # noqa: RUF001
    asking = client.get(f"/runs/{ids['asking']}").text
    assert re.search(r'<g class="node g-step ran[^"]*" data-node="step:ask">', asking)
    assert re.search(r'<g class="node g-step( undeclared)?" data-node="step:answer">', asking)


def test_unknown_run_and_commit_are_404_with_a_clear_message(
    client: TestClient, ids: dict[str, str]
) -> None:
    res = client.get("/runs/no-such-run")
    assert res.status_code == 404
    assert "there is no run &#39;no-such-run&#39; in this store" in res.text
    res = client.get("/api/runs/no-such-run")
    assert res.status_code == 404
    assert res.json() == {"error": "there is no run 'no-such-run' in this store"}
    res = client.get(f"/runs/{ids['pipeline']}?seq=999")
    assert res.status_code == 404
    assert f"run {ids['pipeline']} has no commit 999 (its commits are 0 to" in res.text
    res = client.get(f"/runs/{ids['pipeline']}?seq=x")
    assert res.status_code == 400
    assert "bad commit number &#39;x&#39;" in res.text
    assert client.get("/runs/" + "x" * 300).status_code == 404


def test_run_json_reports_progress(client: TestClient, ids: dict[str, str]) -> None:
    run = client.get(f"/api/runs/{ids['pipeline']}").json()
    assert run["status"] == "completed"
    assert run["workflow"] == "ui-pipeline"
    assert run["last_seq"] == 7
    assert run["error"] is None


def test_pages_work_offline_with_their_own_script_and_styles(
    client: TestClient, ids: dict[str, str]
) -> None:
    html = client.get(f"/runs/{ids['pipeline']}").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(s.startswith(("/", "?", "#")) for s in sources), sources
    script = client.get("/static/app.js")
    assert script.status_code == 200
    assert "fetch(" in script.text
    style = client.get("/static/style.css")
    assert style.status_code == 200
    assert "svg.timeline" in style.text
    package = Path(__file__).resolve().parents[2] / "src" / "blazen" / "ui" / "static"
    total = sum(p.stat().st_size for p in package.iterdir())
    assert total < 40_000  # a little JavaScript, no bundled library
