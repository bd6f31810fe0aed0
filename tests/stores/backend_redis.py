"""The Redis backend of the store contract suite: a fresh key prefix per test, deleted after.

The server is ``$BLAZEN_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). When it is
unreachable the test is skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from blazen.stores.base import CheckpointStore
from blazen.stores.redis import RedisStore

from .conftest import Backend

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_reachable: str | None = None
_live: set[str] = set()


def server_url() -> str:
    """The Redis server the tests use, without query parameters."""
    parts = urlsplit(os.environ.get("BLAZEN_TEST_REDIS_URL") or DEFAULT_URL)
    return urlunsplit(parts._replace(query=""))


def require_redis() -> str:
    """The server URL; skip the test (fail under ``CI=true``) when it does not answer."""
    global _reachable
    url = server_url()
    if _reachable != url:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=2)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            where = f"{urlsplit(url).hostname}:{urlsplit(url).port or 6379}"
            message = f"Redis not reachable at {where}: {exc}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        _reachable = url
    return url


def new_prefix() -> str:
    """A prefix no other test uses; its keys are deleted at exit if a test left them."""
    prefix = f"t_{uuid.uuid4().hex}"
    _live.add(prefix)
    return prefix


def count_keys(prefix: str, kind: str = "") -> int:
    """How many keys of the store with this prefix exist (``kind``: e.g. ``"blob:"``)."""
    with redis.Redis.from_url(server_url()) as client:
        return sum(1 for _ in client.scan_iter(match=f"{{{prefix}}}:{kind}*", count=1000))


def delete_prefix(prefix: str) -> None:
    """Delete every key of the store with this prefix."""
    with redis.Redis.from_url(server_url()) as client:
        keys = list(client.scan_iter(match=f"{{{prefix}}}:*", count=1000))
        if keys:
            client.delete(*keys)
    _live.discard(prefix)


@atexit.register
def _leftovers() -> None:
    """Delete the keys of any test store that was not closed."""
    for prefix in list(_live):
        with contextlib.suppress(redis.RedisError):
            delete_prefix(prefix)


class _TestStore(RedisStore):
    """A ``RedisStore`` whose prefix is deleted when its last open handle closes."""

    handles: dict[str, int] = {}  # noqa: RUF012

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.handles[self.prefix] = self.handles.get(self.prefix, 0) + 1

    async def close(self) -> None:
        """Close; the last handle of the prefix also deletes its keys."""
        if self._closed:
            return
        await super().close()
        self.handles[self.prefix] -= 1
        if not self.handles[self.prefix]:
            delete_prefix(self.prefix)


def open_backend(tmp_path: Path) -> Backend:
    """A fresh prefix on the test server; each open is a new ``RedisStore`` handle on it."""
    url = f"{require_redis()}?prefix={new_prefix()}"

    def blobs(store: CheckpointStore) -> int:
        assert isinstance(store, RedisStore)
        return count_keys(store.prefix, "blob:")

    return Backend("redis", lambda: _TestStore(url), blobs)
