"""Redis-only behaviour: foreign prefixes, URLs, errors, many processes, the engine end to end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import blazen
from blazen import (
    Workflow,
)
from blazen.errors import StoreConflictError, StoreError
from blazen.stores import _redis_blobs as redis_blobs
from blazen.stores import open_store
from blazen.stores._codec import CHUNK, STREAM_LIMIT
from blazen.stores.base import Commit
from blazen.stores.redis import SCHEMA_VERSION, RedisStore, parse_url

from .backend_redis import count_keys, delete_prefix, new_prefix, require_redis, server_url
from .flows import STEPS, paused_run
from .helpers import B, J, ev, new_run

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix on the test server, deleted after the test."""
    require_redis()
    name = new_prefix()
    yield name
    delete_prefix(name)


@pytest.fixture
def url(prefix: str) -> str:
    """The store URL of the fresh prefix."""
    return f"{server_url()}?prefix={prefix}"


def _dump(prefix: str) -> dict[bytes, bytes]:
    """Every key of the prefix and its serialized value."""
    with redis.Redis.from_url(server_url()) as client:
        keys = client.scan_iter(match=f"{{{prefix}}}:*", count=1000)
        return {key: client.dump(key) for key in keys}


def test_parse_url() -> None:
    assert parse_url("redis://h:1/2?prefix=x") == ("redis://h:1/2", "x", "h:1")
    assert parse_url("redis://h/0")[1:] == ("blazen", "h:6379")
    with pytest.raises(StoreError, match="braces"):
        parse_url("redis://h/0?prefix={x}")
    with pytest.raises(StoreError, match="not a Redis store URL"):
        RedisStore.from_url("http://h/0")
    assert parse_url("redis://h:6379")[0] == "redis://h:6379"
    assert parse_url("redis://h:6379/")[2] == "h:6379"


@pytest.mark.parametrize("path", ["abc", "1a", "-1", "0/1", "\u0661"])
def test_a_database_that_is_not_a_number_is_a_store_error(path: str) -> None:
    with pytest.raises(StoreError, match=rf"bad database '{path}' in Redis store URL"):
        open_store(f"redis://host:6379/{path}")


def test_a_bad_port_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="bad port in Redis store URL 'redis://host:six/0'"):
        open_store("redis://host:six/0")


async def test_foreign_keys_are_refused_and_left_intact(prefix: str, url: str) -> None:
    with redis.Redis.from_url(server_url()) as client:
        client.set(f"{{{prefix}}}:users:1", "ada")
        client.hset(f"{{{prefix}}}:cart", "apples", 3)
    before = _dump(prefix)
    store = RedisStore.from_url(url)
    for _ in range(2):
        with pytest.raises(StoreError, match=r"not a blazen store.*choose another prefix"):
            await store.list_runs()
    await store.close()
    assert _dump(prefix) == before


async def test_a_foreign_marker_is_refused(prefix: str, url: str) -> None:
    with redis.Redis.from_url(server_url()) as client:
        client.hset(f"{{{prefix}}}:meta", "application", "other")
    store = RedisStore.from_url(url)
    with pytest.raises(StoreError, match="does not mark a blazen store"):
        await store.get_run("r1")
    await store.close()


async def test_a_newer_schema_is_refused_and_left_intact(prefix: str, url: str) -> None:
    store = RedisStore.from_url(url)
    await new_run(store, state={"big": B(os.urandom(9000))})
    await store.close()
    with redis.Redis.from_url(server_url()) as client:
        client.hset(f"{{{prefix}}}:meta", "schema_version", 99)
    before = _dump(prefix)
    again = RedisStore.from_url(url)
    with pytest.raises(StoreError, match=r"newer blazen.*version 99"):
        await again.commit("r1", [Commit("s")], owner="me")
    await again.close()
    assert _dump(prefix) == before


async def test_a_new_prefix_is_marked(prefix: str, url: str) -> None:
    store = RedisStore.from_url(url)
    assert await store.list_runs() == []
    await store.close()
    with redis.Redis.from_url(server_url(), decode_responses=True) as client:
        meta = client.hgetall(f"{{{prefix}}}:meta")
    assert meta == {"application": "blazen", "schema_version": str(SCHEMA_VERSION)}


async def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0?prefix=nothing")
    with pytest.raises(StoreError, match=r"cannot reach Redis at 127\.0\.0\.1:1"):
        await store.list_runs()
    await store.close()


async def test_open_store_and_keys(prefix: str, url: str) -> None:
    store = open_store(url)
    assert isinstance(store, RedisStore)
    await new_run(store, state={"big": B(os.urandom(70_000)), "small": J(1)})
    await store.commit("r1", [Commit("s", writes={"copy": B(bytes(70_000))})], owner="me")
    assert count_keys(prefix, "blob:") == 2
    await store.delete_run("r1")
    assert count_keys(prefix, "blob:") == 0
    assert count_keys(prefix, "run") == 0
    await store.close()


async def test_large_blobs_are_staged_in_pieces_and_no_staging_key_is_left(
    prefix: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore.from_url(url)
    big = os.urandom(3 * CHUNK + 1)
    await new_run(store, state={"big": B(big)})
    assert count_keys(prefix, "upload:") == 0
    with redis.Redis.from_url(server_url()) as client:
        (blob_key,) = client.scan_iter(match=f"{{{prefix}}}:blob:*")
        assert client.strlen(blob_key) == len(big)
        assert client.ttl(blob_key) == -1  # the staging key's expiry did not follow it
    staged: list[str] = []
    stage = redis_blobs.stage

    async def stage_then_lose_the_run(*args: Any) -> str:
        """Stage, then another worker claims the run before the commit script runs again."""
        staged.append(await stage(*args))
        assert count_keys(prefix, "upload:") == 1
        await store.claim("r1", "other worker")
        return staged[-1]

    monkeypatch.setattr(redis_blobs, "stage", stage_then_lose_the_run)
    other = B(os.urandom(STREAM_LIMIT))
    taken = r"taken over by another process \(owner 'other worker'\) while this one \('me'\)"
    with pytest.raises(StoreConflictError, match=taken):
        await store.commit("r1", [Commit("s", writes={"o": other})], owner="me")
    assert len(staged) == 1
    assert count_keys(prefix, "upload:") == 0
    assert count_keys(prefix, "blob:") == 1
    assert (await store.load("r1")).context_state == {"big": B(big)}
    await store.close()


def test_one_store_object_across_event_loops(url: str) -> None:
    store = RedisStore.from_url(url)
    asyncio.run(new_run(store))
    assert asyncio.run(store.get_run("r1")).last_seq == 0
    asyncio.run(store.close())


CHILD = """
import asyncio, os, sys, time
from blazen.stores.base import Commit, PendingEvent
from blazen.stores.redis import RedisStore
from blazen.values import StateValue

url, go, name, single, batches, size = sys.argv[1:7]
single, batches, size = int(single), int(batches), int(size)
BIG = StateValue.Bytes(b"shared" * 2000)

def step(i):
    ev = PendingEvent(f"e{i}", "T", {"i": i})
    consumed = (f"e{i - 1}",) if i else ()
    writes = {f"k{i}": StateValue.Json(i)}
    if i % 50 == 0:
        writes["big"] = BIG
    return Commit(f"s{i}", consumed=consumed, emitted=(ev,), writes=writes)

async def main():
    store = RedisStore.from_url(url)
    await store.create_run(name, "wf", owner=name, context_state={}, pending=[],
                           collected={}, metadata={})
    i = 0
    for _ in range(single):
        await store.commit(name, [step(i)], owner=name)
        i += 1
    for _ in range(batches):
        await store.commit(name, [step(i + j) for j in range(size)], owner=name)
        i += size
    await store.close()
    print("done", i, flush=True)

print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
asyncio.run(main())
"""


async def test_processes_commit_to_one_store_concurrently(tmp_path: Path, url: str) -> None:
    go = tmp_path / "go"
    src = str(Path(blazen.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.getenv("PYTHONPATH")])),
    }
    counts = single, batches, size = 200, 20, 16
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(go), f"w{n}", *map(str, counts)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    started = time.monotonic()
    outputs = [child.communicate(timeout=100) for child in children]
    assert time.monotonic() - started < 100
    total = single + batches * size
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.split() == ["done", str(total)]
    store = RedisStore.from_url(url)
    assert sorted(r.run_id for r in await store.list_runs()) == ["w0", "w1"]
    for name in ("w0", "w1"):
        loaded = await store.load(name)
        assert loaded.seq == total
        assert {k: v for k, v in loaded.context_state.items() if k != "big"} == {
            f"k{i}": J(i) for i in range(total)
        }
        assert [p.event_id for p in loaded.pending] == [f"e{total - 1}"]
        assert [c.seq for c in await store.checkpoints(name)] == list(range(total + 1))
    await store.delete_run("w0")
    assert (await store.load("w1")).context_state["big"] == B(b"shared" * 2000)
    await store.close()


async def test_durable_runs_resume_and_recover(url: str) -> None:
    steps = STEPS
    first = RedisStore.from_url(url)
    wf = Workflow("redis-ticks", steps, store=first)
    paused = await paused_run(wf, "a")
    recovered = [await paused_run(wf, f"r{i}") for i in range(2)]
    assert (await first.get_run(paused)).status == "waiting"  # paused while waiting for input
    await first.close()

    second = RedisStore.from_url(url)
    wf2 = Workflow("redis-ticks", steps, store=second)
    resumed = await wf2.resume_run(paused)
    await resumed.respond_to_input("more", "yes")
    assert (await resumed.result()).result == {"label": "a", "last": 5}
    loaded = await second.load(paused)
    assert loaded.context_state["answer"].as_json() == "yes"
    assert (await second.get_run(paused)).status == "completed"
    assert (await second.checkpoints(paused))[0].step == "<create>"

    by_url = Workflow("redis-ticks", steps, store=url)
    handlers = await by_url.recover()
    assert sorted(h.run_id for h in handlers) == sorted(recovered)
    for handler in handlers:
        await handler.respond_to_input("more", 1)
    labels = sorted([(await h.result()).result["label"] for h in handlers])
    assert labels == ["r0", "r1"]
    assert [r.status for r in await second.list_runs(workflow_name="redis-ticks")] == [
        "completed"
    ] * 3
    assert by_url.store is not None
    await by_url.store.close()
    await second.close()


async def test_store_calls_with_events(url: str) -> None:
    store = RedisStore.from_url(url)
    await new_run(store)
    await store.commit("r1", [Commit("s", consumed=("start",), emitted=(ev("e"),))], owner="me")
    assert [(s, e.event_id, c) for s, e, c in await store.events("r1")] == [
        (0, "start", 1),
        (1, "e", None),
    ]
    await store.close()
