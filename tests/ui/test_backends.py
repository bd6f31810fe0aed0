"""The viewer reads only through the ``CheckpointStore`` protocol: the same pages on PostgreSQL
and Redis as on SQLite. Skipped when a server is unreachable, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from blazen.stores import open_store
from blazen.ui import create_app

from .conftest import BASE
from .flows import run_all
from .helpers import table_rows

PG_URL = os.environ.get("BLAZEN_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("BLAZEN_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _unreachable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def _pg(*queries: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        for query in queries:
            await conn.execute(query)
    finally:
        await conn.close()


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception as exc:
        _unreachable(f"PostgreSQL not reachable: {type(exc).__name__}: {exc}")
    schema = f"ui_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    import redis

    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as exc:
        _unreachable(f"Redis not reachable: {exc}")
    prefix = f"ui_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{REDIS_URL}?prefix={prefix}"
    finally:
        with redis.Redis.from_url(REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"{{{prefix}}}:*", count=1000))
            if keys:
                client.delete(*keys)


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def server_store(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """A store URL on a real server holding one run of each test workflow."""
    with _postgres() if request.param == "postgres" else _redis() as url:

        async def make() -> dict[str, str]:
            store = open_store(url)
            try:
                return await run_all(store)
            finally:
                await store.close()

        yield url, asyncio.run(make())


def test_pages_on_a_server_store(server_store: tuple[str, dict[str, str]]) -> None:
    url, ids = server_store
    app = create_app(open_store(url), close_store=True)
    with TestClient(app, base_url=BASE) as client:
        listed = [row[0] for row in table_rows(client.get("/").text, "runs")]
        assert listed == [ids["asking"], ids["failed"], ids["pipeline"]]
        assert [r[0] for r in table_rows(client.get("/?status=failed").text, "runs")] == [
            ids["failed"]
        ]
        page = client.get(f"/runs/{ids['pipeline']}")
        assert page.status_code == 200
        steps = [row[1] for row in table_rows(page.text, "checkpoints")]
        assert steps.count("work") == 3
        context = {row[0]: row for row in table_rows(page.text, "context")}
        assert context["blob/0"][2:4] == ["bytes", "40 B"]
        assert context["trap/0"][2] == "native"
        assert len(re.findall(r'data-seq="\d+"', page.text)) == len(steps)
        at_one = client.get(f"/runs/{ids['pipeline']}?seq=1")
        assert [row[1] for row in table_rows(at_one.text, "pending")] == ["Item"] * 3
        failed = client.get(f"/runs/{ids['failed']}")
        assert "boom: the disk is full" in failed.text
        asking = client.get(f"/runs/{ids['asking']}")
        assert "Ship it?" in asking.text
        missing = client.get("/runs/no-such-run")
        assert missing.status_code == 404
        assert "there is no run" in missing.text
