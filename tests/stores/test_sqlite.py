"""SQLite-only behaviour: file validation, URLs, space use, sharing a file and the loop thread."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from blazen.errors import StoreError
from blazen.stores import _sqlite_file as sqlite_file
from blazen.stores import open_store
from blazen.stores._codec import CHUNK, STREAM_LIMIT, pack
from blazen.stores._sqlite_file import SCHEMA_VERSION
from blazen.stores._sqlite_reads import FIND_RUNS
from blazen.stores.base import Commit
from blazen.stores.memory import MemoryStore
from blazen.stores.sqlite import SQLiteStore, sqlite_path
from blazen.values import StateValue

from .helpers import B, J, ev, new_run

MiB = 1024 * 1024
SQLITE_TYPES = (sqlite3.Connection, sqlite3.Cursor)
SQLITE_MODULE = sqlite3.connect.__self__  # type: ignore[attr-defined]


def _digest(path: Path) -> str:
    """The sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(path: Path, sql: str) -> list[Any]:
    """Run one query on the file with a plain sqlite3 connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_text_file_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 10)
    before = _digest(path)
    with pytest.raises(StoreError, match=r"notes\.txt.*not an SQLite database"):
        SQLiteStore(path)
    assert _digest(path) == before


def test_a_corrupt_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    before = _digest(path)
    with pytest.raises(StoreError, match=r"broken\.db"):
        SQLiteStore(path)
    assert _digest(path) == before


def _flip_schema_byte(path: Path, text: bytes) -> None:
    """Flip the top bit of one byte inside ``text`` where the file stores it (its schema)."""
    data = bytearray(path.read_bytes())
    at = data.find(text)
    assert at > 0, text
    data[at + 2] ^= 0x80
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("text", [b"CREATE TABLE blazen_meta", b"blazen_meta"])
def test_a_flipped_byte_in_the_schema_text_is_a_store_error(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "flipped.db"
    asyncio.run(SQLiteStore(path).close())
    _flip_schema_byte(path, text)
    with pytest.raises(StoreError, match=r"cannot open '.*flipped\.db'.*corrupt.*not UTF-8"):
        SQLiteStore(path)

    async def inside_a_loop() -> None:
        store = SQLiteStore(path)
        with pytest.raises(StoreError, match=r"flipped\.db.*corrupt.*not UTF-8"):
            await store.list_runs()
        await store.close()

    asyncio.run(inside_a_loop())


def test_a_foreign_database_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=r"app.db.*not a blazen store.*users"):
        SQLiteStore(path)
    assert _digest(path) == before
    assert _query(path, "PRAGMA journal_mode") == [("delete",)]


async def test_inside_a_loop_the_open_error_comes_from_the_first_call(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    store = SQLiteStore(path)
    for _ in range(2):
        with pytest.raises(StoreError, match="not an SQLite database"):
            await store.list_runs()
    await store.close()


async def test_a_newer_schema_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    await new_run(store)
    await store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE blazen_meta SET value = '99' WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=r"newer blazen.*version 99"):
        await SQLiteStore(path).get_run("r1")
    assert _digest(path) == before
    assert _query(path, "PRAGMA user_version") == [(99,)]


@pytest.mark.parametrize("existing", [False, True], ids=["absent", "empty"])
async def test_a_new_or_empty_file_is_initialized(tmp_path: Path, existing: bool) -> None:
    path = tmp_path / "new.db"
    if existing:
        path.write_bytes(b"")
    store = SQLiteStore(path)
    await new_run(store)
    await store.close()
    assert _query(path, "PRAGMA journal_mode") == [("wal",)]
    assert _query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _query(path, "PRAGMA auto_vacuum") == [(2,)]
    meta = dict(_query(path, "SELECT key, value FROM blazen_meta"))
    assert meta == {"application": "blazen", "schema_version": str(SCHEMA_VERSION)}
    store = SQLiteStore(path)
    assert (await store.get_run("r1")).last_seq == 0
    await store.close()


def test_connections_opening_one_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once (no busy wait) while another connection opens
    the same new file (about 1 round in 30 with 3 threads); every open must still succeed."""
    failures: list[BaseException] = []
    for round_no in range(300):
        path = str(tmp_path / f"race{round_no}.db")
        barrier = threading.Barrier(3)

        def open_it(path: str = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=10)
            try:
                sqlite_file.connect(path).close()
            except BaseException as exc:  # counted, then asserted on
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert _query(Path(path), "PRAGMA journal_mode") == [("wal",)]
    assert failures == []


class _LockedFor:
    """A connection stand-in whose WAL switch is refused as locked ``times`` times."""

    def __init__(self, times: int, message: str = "database is locked") -> None:
        self.times, self.message, self.calls = times, message, 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode = WAL"
        self.calls += 1
        if self.calls <= self.times:
            raise sqlite3.OperationalError(self.message)


def test_the_wal_switch_is_retried_while_locked_within_the_timeout() -> None:
    conn = _LockedFor(3)
    sqlite_file._enter_wal(conn, timeout=5.0)  # type: ignore[arg-type]
    assert conn.calls == 4
    stuck = _LockedFor(10**9)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_file._enter_wal(stuck, timeout=0.05)  # type: ignore[arg-type]
    assert 2 <= stuck.calls < 20
    other = _LockedFor(1, "disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        sqlite_file._enter_wal(other, timeout=5.0)  # type: ignore[arg-type]
    assert other.calls == 1


async def test_each_commit_row_keeps_its_status_and_its_event_data(tmp_path: Path) -> None:
    """Step commits carry a status (the SQLite store writes those rows with a statement of
    their own) and small event data is bound as a bytearray: both must land as written."""
    path = tmp_path / "rows.db"
    store = SQLiteStore(path)
    await new_run(store)
    statuses = [None, "running", "waiting", "running", "completed"]
    batch = [
        Commit(f"s{i}", emitted=(ev(f"e{i}", data={"i": i}),), writes={"k": J(i)}, status=status)
        for i, status in enumerate(statuses)
    ]
    await store.commit("r1", batch, owner="me")
    await store.close()
    rows = _query(path, "SELECT seq, status, error, collected, attempt FROM commits WHERE seq > 0")
    assert rows == [(i + 1, status, None, None, 1) for i, status in enumerate(statuses)]
    data = _query(path, "SELECT typeof(data), data FROM events WHERE event_id = 'e3'")
    assert data == [("blob", pack({"i": 3}))]
    assert _query(path, "SELECT typeof(data) FROM writes WHERE seq = 4") == [("blob",)]


async def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_path("sqlite:///rel/x.db") == "rel/x.db"
    assert sqlite_path("sqlite:////abs/x.db") == "/abs/x.db"
    assert sqlite_path("plain.db") == "plain.db"
    assert sqlite_path(tmp_path / "p.db") == str(tmp_path / "p.db")
    with pytest.raises(StoreError, match="no file path"):
        sqlite_path("sqlite:///")
    monkeypatch.chdir(tmp_path)
    for url, name in [
        ("sqlite:///rel.db", "rel.db"),
        (f"sqlite:///{tmp_path}/abs.db", "abs.db"),
        ("bare.db", "bare.db"),
    ]:
        store = open_store(url)
        assert isinstance(store, SQLiteStore)
        assert await store.list_runs() == []
        await store.close()
        assert (tmp_path / name).exists()
    assert isinstance(MemoryStore.from_url("memory://"), MemoryStore)
    assert isinstance(open_store("memory://"), MemoryStore)
    with pytest.raises(StoreError, match="unknown store scheme"):
        open_store("mongo://x")


@pytest.mark.parametrize(
    "incremental",
    [
        pytest.param(
            True,
            marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="blobopen: Python 3.11+"),
        ),
        False,
    ],
    ids=["blobopen", "one-bind"],
)
async def test_large_blobs_round_trip_by_either_blob_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, incremental: bool
) -> None:
    monkeypatch.setattr(sqlite_file, "INCREMENTAL_BLOBS", incremental)
    big = os.urandom(STREAM_LIMIT + CHUNK // 3)  # not a whole number of pieces
    medium = os.urandom(STREAM_LIMIT - 1)  # a blob below the streaming size
    store = SQLiteStore(tmp_path / "blobs.db")
    await new_run(store, state={"big": B(big), "medium": B(medium)})
    await store.commit("r1", [Commit("s", result=StateValue.Native(big))], owner="me")
    loaded = await store.load("r1")
    assert loaded.context_state == {"big": B(big), "medium": B(medium)}
    assert loaded.result == StateValue.Native(big)
    await store.close()
    assert _query(tmp_path / "blobs.db", "SELECT size FROM blobs ORDER BY size") == [
        (len(medium),),
        (len(big),),
    ]


async def test_big_unchanged_values_do_not_grow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    big = os.urandom(20 * MiB)
    store = SQLiteStore(path)
    await new_run(store, pending=[])
    await store.commit("r1", [Commit("s", writes={"big": B(big)})], owner="me")
    await store.close()
    assert not Path(f"{path}-wal").exists()
    before = path.stat().st_size
    assert before > 20 * MiB
    store = SQLiteStore(path)
    for i in range(50):
        writes: dict[str, StateValue] = {"small": J({"i": i})}
        if i == 25:
            writes["copy"] = B(bytes(bytearray(big)))
        await store.commit("r1", [Commit("s", writes=writes)], owner="me")
    loaded = await store.load("r1")
    await store.close()
    growth = path.stat().st_size - before
    assert growth < MiB, growth
    assert loaded.context_state["copy"] == B(big)
    assert loaded.context_state["small"] == J({"i": 49})


async def test_deleting_a_run_gives_its_space_back(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    await new_run(store, state={"big": B(os.urandom(8 * MiB))})
    await new_run(store, "keep", state={"small": B(os.urandom(8000))})
    await store.close()
    assert path.stat().st_size > 8 * MiB
    store = SQLiteStore(path)
    await store.delete_run("r1")
    await store.close()
    assert path.stat().st_size < MiB
    assert _query(path, "SELECT count(*) FROM blobs") == [(1,)]


async def test_sqlite_calls_never_run_on_the_loop_thread(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def spy(frame: FrameType, event: str, arg: Any) -> None:
        owner = getattr(arg, "__self__", None)
        if event == "c_call" and (isinstance(owner, SQLITE_TYPES) or owner is SQLITE_MODULE):
            seen.append(threading.get_ident())

    threading.setprofile(spy)
    sys.setprofile(spy)
    try:
        sqlite3.connect(":memory:").close()
        assert seen == [loop_thread, loop_thread], "the spy must see calls on the loop thread"
        seen.clear()
        await _workload(tmp_path / "store.db")
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert len(seen) > 20
    assert loop_thread not in seen


async def _workload(path: Path) -> None:
    """Every store method once."""
    store = SQLiteStore(path)
    await new_run(store, state={"k": J(1)})
    await store.commit("r1", [Commit("s", consumed=("start",), emitted=(ev("e"),))], owner="me")
    await store.claim("r1", "you")
    await store.load("r1", 0)
    await store.list_runs()
    await store.checkpoints("r1")
    await store.events("r1")
    await store.get_run("r1")
    await store.delete_run("r1")
    await store.close()


async def test_a_run_id_prefix_is_a_range_of_the_unique_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await new_run(store, "abc-1")
    await store.close()
    sql = FIND_RUNS.replace("?", "'a'", 1).replace("?", "'b'", 1).replace("?", "3")
    (row,) = _query(tmp_path / "s.db", f"EXPLAIN QUERY PLAN {sql}")
    assert row[3].startswith("SEARCH runs USING ")
    assert row[3].endswith("INDEX sqlite_autoindex_runs_1 (run_id>? AND run_id<?)")
