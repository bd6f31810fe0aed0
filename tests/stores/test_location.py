"""``store.location``: where a store keeps its runs, for people, never with a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from blazen.stores import open_store
from blazen.stores._location import public_url
from blazen.stores.base import CheckpointStore
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore


async def test_memory_and_sqlite_locations(tmp_path: Path) -> None:
    assert MemoryStore().location == "memory://"
    store = SQLiteStore(tmp_path / "runs.db")
    assert store.location == str(tmp_path / "runs.db")
    await store.close()


@pytest.mark.parametrize(
    ("url", "location"),
    [
        (
            "postgresql://bob:s3cret@db.example:5433/app?sslmode=require&password=s3cret&schema=r",
            "postgresql://bob@db.example:5433/app?sslmode=require&schema=r",
        ),
        ("postgres://db.example/app", "postgresql://db.example/app?schema=blazen"),
        ("redis://:s3cret@cache:6380/2?prefix=team", "redis://cache:6380/2?prefix=team"),
        ("redis://ann:s3cret@[::1]:6390/0", "redis://ann@[::1]:6390/0?prefix=blazen"),
    ],
)
async def test_server_locations_have_no_password(url: str, location: str) -> None:
    store: CheckpointStore = open_store(url)
    assert store.location == location
    assert "s3cret" not in repr(store)
    await store.close()


def test_public_url_drops_secret_query_parameters() -> None:
    assert public_url("x://u:p@h/d?PassWord=p&sslpassword=q&a=1", ("b", "2")) == "x://u@h/d?a=1&b=2"
