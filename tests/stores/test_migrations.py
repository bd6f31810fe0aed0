"""Stores written by schema 1 (before leases) are migrated to schema 2 on first use: their
unfinished owned runs can be claimed, and their history is kept."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from blazen.stores import open_store
from blazen.stores._sql import migrations
from blazen.stores._sqlite_file import _statements
from blazen.stores.sqlite import SQLiteStore

from .backend_postgres import admin, drop_schema, new_schema, require_server, store_url
from .helpers import new_run


def _v1_rows(blob: str, now: str) -> list[str]:
    """One schema-1 run, ``running`` and owned by a process that is gone (SQL, with ``blob``
    the literal of an empty msgpack map and ``now`` a time)."""
    return [
        "INSERT INTO runs (run_id, workflow_name, status, owner, metadata, created_at,"
        f" updated_at, last_seq) VALUES ('old', 'wf', 'running', 'elsewhere:1:gone', {blob},"
        f" {now}, {now}, 0)",
        "INSERT INTO commits (rid, seq, step, created_at, consumed)"
        f" SELECT rid, 0, '<create>', {now}, 0 FROM runs",
        "INSERT INTO events (rid, seq, idx, event_id, event_type, target_step, data)"
        f" SELECT rid, 0, 0, 'e1', 'T', 's', {blob} FROM runs",
    ]


async def _claimable(store: Any) -> None:
    record = await store.get_run("old")
    assert (record.owner, record.epoch, record.lease_until) == ("elsewhere:1:gone", 1, None)
    lease = await store.acquire("old", "new-owner")  # no lease end: free
    assert lease.epoch == 2
    history = await store.checkpoints("old")
    assert [(c.step, c.epoch, c.attempt, c.error) for c in history] == [("<create>", 0, 1, None)]
    assert [p.event_id for p in (await store.load("old")).pending] == ["e1"]


def test_a_schema_1_sqlite_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(dict(migrations("sqlite"))[1]):
        conn.execute(statement)
    conn.execute("INSERT INTO blazen_meta (key, value) VALUES ('schema_version', '1')")
    conn.execute("PRAGMA user_version = 1")

    for sql in _v1_rows("X'80'", "1.0"):
        conn.execute(sql)
    conn.close()

    async def check() -> None:
        store = SQLiteStore(path)
        try:
            await _claimable(store)
        finally:
            await store.close()

    asyncio.run(check())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    conn.close()


@pytest.mark.postgres
def test_a_schema_1_postgres_schema_is_migrated() -> None:
    require_server()
    schema = new_schema()
    try:
        script = dict(migrations("postgres"))[1]

        async def create_v1() -> None:
            import asyncpg

            conn = await asyncpg.connect(store_url(schema).split("?")[0])
            try:
                await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO blazen_meta (key, value) VALUES ('schema_version', '1')"
                )
                for sql in _v1_rows("'\\x80'::bytea", "now()"):
                    await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(create_v1())

        async def check() -> None:
            store = open_store(store_url(schema))
            try:
                await _claimable(store)
            finally:
                await store.close()

        asyncio.run(check())
        version = admin(f"SELECT value FROM \"{schema}\".blazen_meta WHERE key = 'schema_version'")
        assert version[0][0] == "2"
    finally:
        drop_schema(schema)


@pytest.mark.redis
def test_a_schema_1_redis_prefix_is_migrated() -> None:
    import redis

    from .backend_redis import delete_prefix, new_prefix, require_redis

    url = f"{require_redis()}?prefix={(prefix := new_prefix())}"
    try:

        async def write() -> None:
            store = open_store(url)
            try:
                await new_run(store, "old", owner="elsewhere:1:gone", lease=3600)
            finally:
                await store.close()

        asyncio.run(write())
        with redis.Redis.from_url(url.split("?")[0]) as client:  # as schema 1 left it
            tag = "{" + prefix + "}"
            client.hdel(f"{tag}:run:old", "epoch", "lease_until", "logged_epoch")
            client.delete(f"{tag}:leases:wf", f"{tag}:epochs:old")
            client.hset(f"{tag}:meta", "schema_version", 1)

        async def check() -> None:
            store = open_store(url)
            try:
                record = await store.get_run("old")
                assert (record.epoch, record.lease_until) == (1, 0.0)
                got = await store.acquire_next("new-owner", ["wf"])  # its lease is expired
                assert got.lease is not None
                assert (got.lease.run_id, got.lease.epoch) == ("old", 2)
            finally:
                await store.close()

        asyncio.run(check())
    finally:
        delete_prefix(prefix)
