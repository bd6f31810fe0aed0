"""Actions: refused without --allow-actions, guarded by CSRF, and what each one does."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from blazen.stores import open_store
from blazen.stores.sqlite import SQLiteStore
from blazen.ui import create_app

from .conftest import BASE, MakeClient
from .flows import asking, pipeline

ACTIONS = ["respond", "cancel", "resume", "fork"]


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, "no CSRF field in the page"
    return match.group(1)


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_are_refused_without_allow_actions(
    client: TestClient, ids: dict[str, str], action: str
) -> None:
    res = client.post(f"/runs/{ids['asking']}/{action}", data={"seq": "0", "request_id": "x"})
    assert res.status_code == 403
    assert "actions are disabled: start `blazen ui` with --allow-actions" in res.text
    api = client.post(
        f"/runs/{ids['asking']}/{action}", headers={"Accept": "application/json"}, data={}
    )
    assert api.status_code == 403
    assert api.json()["error"].startswith("actions are disabled")


def test_pages_hide_actions_unless_allowed(make_client: MakeClient, ids: dict[str, str]) -> None:
    plain = make_client().get(f"/runs/{ids['asking']}").text
    assert '<form method="post"' not in plain
    assert "Fork here" not in plain
    assert 'name="csrf"' not in plain
    allowed = make_client(allow_actions=True).get(f"/runs/{ids['asking']}").text
    assert f'action="/runs/{ids["asking"]}/cancel"' in allowed
    assert "/resume" not in allowed  # a waiting run wants an answer, not a worker
    assert f'action="/runs/{ids["asking"]}/respond"' in allowed
    assert "Fork here" in allowed
    done = make_client(allow_actions=True).get(f"/runs/{ids['pipeline']}").text
    assert "/cancel" not in done  # a finished run cannot be cancelled or resumed
    assert "/resume" not in done
    failed = make_client(allow_actions=True).get(f"/runs/{ids['failed']}").text
    assert f'action="/runs/{ids["failed"]}/resume"' in failed


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_the_csrf_token(
    make_client: MakeClient, ids: dict[str, str], action: str
) -> None:
    client = make_client(allow_actions=True)
    res = client.post(f"/runs/{ids['asking']}/{action}", data={"seq": "0"})
    assert res.status_code == 403
    assert "missing or wrong CSRF token" in res.text
    res = client.post(f"/runs/{ids['asking']}/{action}", data={"seq": "0", "csrf": "forged"})
    assert res.status_code == 403


def test_actions_from_another_origin_are_refused(
    make_client: MakeClient, ids: dict[str, str]
) -> None:
    client = make_client(allow_actions=True)
    csrf = _csrf(client.get(f"/runs/{ids['pipeline']}").text)
    res = client.post(
        f"/runs/{ids['pipeline']}/fork",
        data={"seq": "1", "csrf": csrf},
        headers={"Origin": "http://attacker.example"},
    )
    assert res.status_code == 403


def test_actions_also_need_the_access_token(make_client: MakeClient, ids: dict[str, str]) -> None:
    client = make_client(allow_actions=True, token="tok-tok-tok-tok")
    res = client.post(f"/runs/{ids['pipeline']}/fork", data={"seq": "1"})
    assert res.status_code == 401


def test_fork_from_a_checkpoint_makes_a_paused_run_that_resumes_to_the_same_result(
    make_fresh_client: MakeClient, fresh_db: tuple[Path, dict[str, str]]
) -> None:
    path, ids = fresh_db
    client = make_fresh_client(allow_actions=True)
    csrf = _csrf(client.get(f"/runs/{ids['pipeline']}").text)
    res = client.post(f"/runs/{ids['pipeline']}/fork", data={"seq": "1", "csrf": csrf})
    assert res.status_code == 303
    match = re.fullmatch(r"/runs/([0-9a-f-]{36})\?done=fork", res.headers["location"])
    assert match is not None
    new_id = match.group(1)
    page = client.get(res.headers["location"])
    assert "Forked: this new run is paused" in page.text
    assert f'href="/runs/{ids["pipeline"]}?seq=1"' in page.text  # "forked from" link

    async def resume() -> tuple[str, Any]:
        store = open_store(f"sqlite:///{path}")
        try:
            record = await store.get_run(new_id)
            handler = await pipeline(store).resume_run(new_id)
            return record.status, (await handler.result()).result
        finally:
            await store.close()

    status, result = asyncio.run(resume())
    assert status == "paused"
    assert result == {"sum": 5}


def test_fork_errors(make_fresh_client: MakeClient, fresh_db: tuple[Path, dict[str, str]]) -> None:
    _, ids = fresh_db
    client = make_fresh_client(allow_actions=True)
    csrf = _csrf(client.get(f"/runs/{ids['pipeline']}").text)
    last = client.get(f"/api/runs/{ids['pipeline']}").json()["last_seq"]
    res = client.post(f"/runs/{ids['pipeline']}/fork", data={"seq": str(last), "csrf": csrf})
    assert res.status_code == 409
    assert f"has nothing left to run after commit {last}" in res.text
    res = client.post(f"/runs/{ids['pipeline']}/fork", data={"seq": "999", "csrf": csrf})
    assert res.status_code == 404
    assert "has no commit 999" in res.text
    res = client.post(f"/runs/{ids['pipeline']}/fork", data={"seq": "x", "csrf": csrf})
    assert res.status_code == 400
    res = client.post("/runs/no-such-run/fork", data={"seq": "0", "csrf": csrf})
    assert res.status_code == 404
    assert "there is no run &#39;no-such-run&#39;" in res.text


class LegacyStore:
    """A third-party store without the cross-process operations (it forwards the rest)."""

    def __init__(self, inner: SQLiteStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in ("respond", "cancel", "requeue"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return "LegacyStore()"


@pytest.mark.parametrize(
    ("action", "operation"),
    [("respond", "respond(run_id, request_id, response)"), ("cancel", "cancel(run_id)"),
     ("resume", "requeue(run_id)")],
)  # fmt: skip
def test_store_without_run_control_says_which_operation_is_missing(
    fresh_db: tuple[Path, dict[str, str]], action: str, operation: str
) -> None:
    path, ids = fresh_db
    app = create_app(LegacyStore(SQLiteStore(path)), allow_actions=True, close_store=True)  # type: ignore[arg-type]
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        csrf = _csrf(client.get(f"/runs/{ids['asking']}").text)
        res = client.post(
            f"/runs/{ids['asking']}/{action}",
            data={"csrf": csrf, "request_id": "approve", "response": "yes"},
            headers={"Accept": "application/json"},
        )
    assert res.status_code == 501
    assert f"needs the store operation {operation}" in res.json()["error"]
    assert "which LegacyStore does not provide yet" in res.json()["error"]


def _stored(path: Path, run_id: str) -> tuple[str, list[str], list[Any]]:
    """The run's status, its checkpoint steps and its posted answers' data."""

    async def read() -> tuple[str, list[str], list[Any]]:
        store = open_store(f"sqlite:///{path}")
        try:
            record = await store.get_run(run_id)
            steps = [c.step for c in await store.checkpoints(run_id)]
            return record.status, steps, [p.data for p in await store.inbox(run_id)]
        finally:
            await store.close()

    return asyncio.run(read())


def test_answer_from_the_viewer_queues_the_run_for_a_worker(
    make_fresh_client: MakeClient, fresh_db: tuple[Path, dict[str, str]]
) -> None:
    path, ids = fresh_db
    run_id = ids["asking"]
    client = make_fresh_client(allow_actions=True)
    csrf = _csrf(client.get(f"/runs/{run_id}").text)
    res = client.post(
        f"/runs/{run_id}/respond",
        data={"csrf": csrf, "request_id": "approve", "response": '{"ok": true}'},
        headers={"Accept": "application/json"},
    )
    assert res.json() == {"ok": True, "action": "respond", "run_id": run_id}
    status, _, posted = _stored(path, run_id)
    assert status == "queued"
    assert posted == [{"request_id": "approve", "response": {"ok": True}}]
    res = client.post(
        f"/runs/{run_id}/respond",
        data={"csrf": csrf, "request_id": "approve", "response": "again"},
        headers={"Accept": "application/json"},
    )
    assert res.status_code == 409
    assert "is not waiting for input request 'approve'" in res.json()["error"]

    async def work() -> Any:
        store = open_store(f"sqlite:///{path}")
        try:
            (handler,) = await asking(store).recover()  # as a worker would
            return (await handler.result()).result
        finally:
            await store.close()

    assert asyncio.run(work()) == {"answer": {"ok": True}}
    assert _stored(path, run_id)[0] == "completed"


def test_cancel_and_resume_from_the_viewer_change_the_stored_run(
    make_fresh_client: MakeClient, fresh_db: tuple[Path, dict[str, str]]
) -> None:
    path, ids = fresh_db
    client = make_fresh_client(allow_actions=True)
    csrf = _csrf(client.get(f"/runs/{ids['asking']}").text)
    res = client.post(f"/runs/{ids['asking']}/cancel", data={"csrf": csrf})
    assert res.status_code == 303
    status, steps, _ = _stored(path, ids["asking"])
    assert (status, steps[-1]) == ("cancelled", "<cancelled>")
    res = client.post(f"/runs/{ids['failed']}/resume", data={"csrf": csrf})
    assert res.status_code == 303
    assert _stored(path, ids["failed"])[0] == "queued"
    res = client.post(
        f"/runs/{ids['failed']}/resume", data={"csrf": csrf}, headers={"Accept": "application/json"}
    )
    assert res.json() == {"ok": True, "action": "resume", "run_id": ids["failed"]}


class ControlledStore(SQLiteStore):
    """A real SQLite store that also has the cross-process operations, recording each call."""

    calls: list[tuple[Any, ...]]

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        self.calls.append(("respond", run_id, request_id, response))

    async def cancel(self, run_id: str) -> None:
        self.calls.append(("cancel", run_id))

    async def requeue(self, run_id: str) -> None:
        self.calls.append(("requeue", run_id))


@pytest.fixture
def controlled(
    fresh_db: tuple[Path, dict[str, str]],
) -> Iterator[tuple[TestClient, ControlledStore]]:
    store = ControlledStore(fresh_db[0])
    store.calls = []
    app = create_app(store, allow_actions=True, close_store=True)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client, store


def test_actions_use_the_store_operations(
    controlled: tuple[TestClient, ControlledStore], fresh_db: tuple[Path, dict[str, str]]
) -> None:
    client, store = controlled
    run_id = fresh_db[1]["asking"]
    csrf = _csrf(client.get(f"/runs/{run_id}").text)
    res = client.post(
        f"/runs/{run_id}/respond",
        data={"csrf": csrf, "request_id": "approve", "response": '{"ok": true}'},
    )
    assert res.status_code == 303
    assert res.headers["location"] == f"/runs/{run_id}?done=respond"
    assert "Answer recorded" in client.get(res.headers["location"]).text
    client.post(
        f"/runs/{run_id}/respond", data={"csrf": csrf, "request_id": "approve", "response": "yes"}
    )
    res = client.post(f"/runs/{run_id}/cancel", headers={"X-CSRF-Token": csrf})
    assert res.status_code == 303
    res = client.post(
        f"/runs/{run_id}/resume", data={"csrf": csrf}, headers={"Accept": "application/json"}
    )
    assert res.json() == {"ok": True, "action": "resume", "run_id": run_id}
    assert store.calls == [
        ("respond", run_id, "approve", {"ok": True}),
        ("respond", run_id, "approve", "yes"),
        ("cancel", run_id),
        ("requeue", run_id),
    ]


def test_actions_on_finished_runs_are_conflicts(
    controlled: tuple[TestClient, ControlledStore], fresh_db: tuple[Path, dict[str, str]]
) -> None:
    client, store = controlled
    run_id = fresh_db[1]["pipeline"]
    csrf = _csrf(client.get(f"/runs/{run_id}").text)
    res = client.post(f"/runs/{run_id}/cancel", data={"csrf": csrf})
    assert res.status_code == 409
    assert f"cannot cancel run {run_id}: it is already completed" in res.text
    res = client.post(f"/runs/{run_id}/resume", data={"csrf": csrf})
    assert res.status_code == 409
    assert "fork it instead" in res.text
    res = client.post(f"/runs/{fresh_db[1]['asking']}/respond", data={"csrf": csrf})
    assert res.status_code == 400
    assert "respond needs a request_id" in res.text
    # a failed run can be resumed (a worker retries it from its last commit)
    res = client.post(f"/runs/{fresh_db[1]['failed']}/resume", data={"csrf": csrf})
    assert res.status_code == 303
    assert store.calls == [("requeue", fresh_db[1]["failed"])]
