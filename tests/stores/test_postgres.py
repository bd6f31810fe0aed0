"""PostgreSQL-only behaviour: schema checks, URLs, errors, many processes, the engine end to end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import blazen
from blazen import (
    StoreError,
    Workflow,
)
from blazen.stores import open_store
from blazen.stores.base import Commit

from .backend_postgres import admin, drop_schema, new_schema, require_server, store_url
from .flows import STEPS, paused_run
from .helpers import B, J, ev, new_run

pytestmark = pytest.mark.postgres
postgres = pytest.importorskip("blazen.stores.postgres")
pg_ops = pytest.importorskip("blazen.stores._pg_ops")
pg_schema = pytest.importorskip("blazen.stores._pg_schema")
PostgresStore = postgres.PostgresStore


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema name on the test server, dropped afterwards."""
    require_server()
    name = new_schema()
    yield name
    drop_schema(name)


def _tables(schema: str) -> list[str]:
    """The schema's table names, sorted."""
    rows = admin(f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' ORDER BY 1")
    return [row[0] for row in rows]


async def test_a_new_schema_is_created_with_the_marker(schema: str) -> None:
    store = PostgresStore.from_url(store_url(schema))
    await new_run(store)
    await store.close()
    assert _tables(schema) == ["blazen_meta", "blobs", "commits", "events", "runs", "writes"]
    meta = dict(admin(f'SELECT key, value FROM "{schema}".blazen_meta'))
    assert meta == {"application": "blazen", "schema_version": str(pg_schema.SCHEMA_VERSION)}


async def test_a_foreign_schema_is_refused_and_left_intact(schema: str) -> None:
    admin(f'CREATE SCHEMA "{schema}"', f'CREATE TABLE "{schema}".users (id int, name text)')
    store = PostgresStore.from_url(store_url(schema))
    for _ in range(2):
        with pytest.raises(StoreError, match=rf"{schema}.*not a blazen store.*users"):
            await store.list_runs()
    await store.close()
    assert _tables(schema) == ["users"]


async def test_a_newer_schema_is_refused_and_left_intact(schema: str) -> None:
    store = PostgresStore.from_url(store_url(schema))
    await new_run(store)
    await store.close()
    admin(f"UPDATE \"{schema}\".blazen_meta SET value = '99' WHERE key = 'schema_version'")
    store = PostgresStore.from_url(store_url(schema))
    with pytest.raises(StoreError, match=r"newer blazen.*version 99"):
        await store.get_run("r1")
    await store.close()
    assert admin(f'SELECT count(*) FROM "{schema}".runs')[0][0] == 1
    version = admin(f"SELECT value FROM \"{schema}\".blazen_meta WHERE key = 'schema_version'")
    assert version[0][0] == "99"


async def test_urls_and_open_store(schema: str) -> None:
    assert postgres.split_url("postgres://u@h:1/db") == ("postgresql://u@h:1/db", "blazen")
    assert postgres.split_url("postgresql://h/db?sslmode=disable&schema=x") == (
        "postgresql://h/db?sslmode=disable",
        "x",
    )
    with pytest.raises(StoreError, match="invalid PostgreSQL schema"):
        PostgresStore.from_url("postgresql://h/db?schema=a;drop")
    for scheme in ("postgresql", "postgres"):
        url = store_url(schema).replace("postgresql://", f"{scheme}://", 1)
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        assert await store.list_runs() == []
        await store.close()


async def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    store = PostgresStore.from_url("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1"):
        await store.list_runs()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.list_runs()


async def test_a_blob_freed_after_the_existence_check_is_sent_again(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore.from_url(store_url(schema))
    await new_run(store, pending=[])
    monkeypatch.setattr(pg_ops, "KNOWN_BLOBS", "SELECT h FROM unnest($1::bytea[]) h")
    big = os.urandom(10_000)
    assert await store.commit("r1", [Commit("s", writes={"big": B(big)})], owner="me") == 1
    assert (await store.load("r1")).context_state == {"big": B(big)}
    await store.delete_run("r1")
    assert admin(f'SELECT count(*) FROM "{schema}".blobs')[0][0] == 0
    await store.close()


CHILD = """
import asyncio, os, sys, time
from blazen.stores.base import Commit, PendingEvent
from blazen.stores._pg_schema import SCHEMA_VERSION
from blazen.stores.postgres import PostgresStore
from blazen.values import StateValue

url, go, name, single, batches, size = sys.argv[1:4] + [int(a) for a in sys.argv[4:7]]

def step(i):
    ev = PendingEvent(f"{name}e{i}", "T", {"i": i})
    consumed = (f"{name}e{i - 1}",) if i else ()
    writes = {f"{name}k{i}": StateValue.Json(i)}
    return Commit(f"s{i}", consumed=consumed, emitted=(ev,), writes=writes)

async def main():
    store = PostgresStore.from_url(url)
    i = 0
    for _ in range(single):
        await store.commit("shared", [step(i)], owner="o")
        i += 1
    for _ in range(batches):
        await store.commit("shared", [step(i + j) for j in range(size)], owner="o")
        i += size
    await store.close()
    print("done", i, flush=True)

print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
asyncio.run(main())
"""


def _child_env() -> dict[str, str]:
    """This environment, with the blazen being tested importable in the child."""
    src = str(Path(blazen.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


async def test_two_processes_commit_to_one_run(schema: str, tmp_path: Path) -> None:
    url, go, counts = store_url(schema), tmp_path / "go", ["100", "10", "16"]
    store = PostgresStore.from_url(url)
    await new_run(store, "shared", owner="o", pending=[])
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(go), name, *counts],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        for name in ("a", "b")
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [await asyncio.to_thread(child.communicate, timeout=100) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.split() == ["done", "260"]
    loaded = await store.load("shared")
    assert loaded.seq == 520
    expected = {f"{n}k{i}": J(i) for n in "ab" for i in range(260)}
    assert loaded.context_state == expected
    assert sorted(p.event_id for p in loaded.pending) == ["ae259", "be259"]
    assert [c.seq for c in await store.checkpoints("shared")] == list(range(521))
    await store.close()


async def test_the_engine_runs_resumes_and_recovers(schema: str) -> None:
    first = PostgresStore.from_url(store_url(schema))
    wf = Workflow("pg-ticks", STEPS, store=first)
    done = await wf.run_with_handler(label="plain")
    assert (await done.result()).result == {"label": "plain", "last": 5}
    run_id = await paused_run(wf, "p")
    assert (await first.get_run(run_id)).status == "waiting"  # paused while waiting for input

    second = PostgresStore.from_url(store_url(schema))
    wf2 = Workflow("pg-ticks", STEPS, store=second)
    resumed = await wf2.resume_run(run_id)
    await resumed.respond_to_input("more", "yes")
    assert (await resumed.result()).result == {"label": "p", "last": 5}
    assert (await second.load(run_id)).context_state["answer"].as_json() == "yes"

    waiting = sorted([await paused_run(wf, f"r{i}") for i in range(2)])
    handlers = await wf2.recover()
    assert sorted(h.run_id for h in handlers) == waiting
    for h in handlers:
        await h.respond_to_input("more", 1)
    assert sorted([(await h.result()).result["label"] for h in handlers]) == ["r0", "r1"]
    assert {r.status for r in await first.list_runs(workflow_name="pg-ticks")} == {"completed"}
    await first.close()
    await second.close()


async def test_commits_of_one_run_from_two_stores_serialize(schema: str) -> None:
    stores = [PostgresStore.from_url(store_url(schema)) for _ in range(2)]
    await new_run(stores[0], pending=[])

    async def writer(n: int) -> None:
        for i in range(30):
            writes = {f"{n}-{i}": J(i)}
            await stores[n].commit(
                "r1", [Commit("s", emitted=(ev(f"{n}-{i}"),), writes=writes)], owner="me"
            )

    await asyncio.gather(writer(0), writer(1))
    assert (await stores[1].get_run("r1")).last_seq == 60
    assert len((await stores[0].load("r1")).pending) == 60
    for store in stores:
        await store.close()


async def test_blob_references_survive_concurrent_deletes(schema: str) -> None:
    big = os.urandom(20_000)
    keeper, churner = (PostgresStore.from_url(store_url(schema)) for _ in range(2))
    await new_run(keeper, pending=[])

    async def churn() -> None:
        for i in range(20):
            await new_run(churner, f"tmp{i}", state={"big": B(big)})
            await churner.delete_run(f"tmp{i}")

    async def keep() -> None:
        for i in range(20):
            await keeper.commit("r1", [Commit("s", writes={f"k{i}": B(big)})], owner="me")

    await asyncio.gather(churn(), keep())
    assert (await keeper.load("r1")).context_state == {f"k{i}": B(big) for i in range(20)}
    assert admin(f'SELECT refs FROM "{schema}".blobs') == [(20,)]
    await keeper.delete_run("r1")
    assert admin(f'SELECT count(*) FROM "{schema}".blobs')[0][0] == 0
    await keeper.close()
    await churner.close()
