"""Open a blazen SQLite file: refuse foreign or newer files untouched, then initialize or migrate.

The schema version lives twice: ``PRAGMA user_version`` (cheap to read, visible to any SQLite
tool) and the ``blazen_meta`` table, whose ``application`` row marks the file as a blazen store.
Nothing is written to a file until it is known to be empty, new or a blazen store of this or an
older schema version.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from blazen.errors import StoreError
from blazen.stores._codec import chunks
from blazen.stores._sql import migrations

__all__ = [
    "INCREMENTAL_BLOBS",
    "SCHEMA_VERSION",
    "connect",
    "insert_blob",
    "read_blob",
    "read_txn",
    "write_txn",
]

APPLICATION = "blazen"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30.0
WAL_AUTOCHECKPOINT_PAGES = 4096
"""Checkpoint the WAL into the file every 16 MiB of frames (SQLite's default is 4 MiB)."""
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Truncate a WAL grown past 64 MiB (by a large blob) back to this size once checkpointed."""


MIGRATIONS = migrations("sqlite")
INCREMENTAL_BLOBS = sys.version_info >= (3, 11)
"""Python >= 3.11: large blobs are written in pieces and read straight into the result
(``blobopen``), never copied whole; before, one select reads them (a transient copy)."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


def insert_blob(conn: sqlite3.Connection, digest: bytes, payload: bytes) -> None:
    """Insert a large blob: in ``CHUNK`` pieces into a ``zeroblob`` (no whole copy)."""
    size = len(payload)
    if sys.version_info >= (3, 11) and INCREMENTAL_BLOBS:
        cursor = conn.execute(
            "INSERT INTO blobs (hash, size, data) VALUES (?, ?, zeroblob(?))", (digest, size, size)
        )
        assert cursor.lastrowid is not None
        with conn.blobopen("blobs", "data", cursor.lastrowid) as handle:
            for piece in chunks(payload):
                handle.write(piece)
        return
    conn.execute("INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?)", (digest, size, payload))


def read_blob(conn: sqlite3.Connection, rowid: int) -> bytes:
    """The payload of ``blobs`` row ``rowid``, read into the one ``bytes`` returned."""
    if sys.version_info >= (3, 11) and INCREMENTAL_BLOBS:
        with conn.blobopen("blobs", "data", rowid, readonly=True) as handle:
            return handle.read()
    row = conn.execute("SELECT data FROM blobs WHERE rowid = ?", (rowid,)).fetchone()
    if row is None:
        raise StoreError("the blob of a stored value is missing from the file")
    data: bytes = row[0]
    return data


@contextmanager
def write_txn(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front (waiting on busy)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


@contextmanager
def read_txn(conn: sqlite3.Connection) -> Iterator[None]:
    """A deferred transaction, so a multi-query read sees one consistent snapshot."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def connect(path: str, busy_timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open ``path`` as a blazen store, creating or upgrading it; ``StoreError`` if it is not."""
    _check_header(path)
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        with read_txn(conn):
            version = _schema_version(conn, path)
        if version == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        _enter_wal(conn, busy_timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        if version < SCHEMA_VERSION:
            _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _enter_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to WAL, retrying while it is locked, for at most ``timeout`` seconds.

    SQLite refuses the switch at once, without its busy wait, while another connection is
    opening the same new file; the refusal is transient, so it is retried.
    """
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _check_header(path: str) -> None:
    """Refuse an existing, non-empty file that does not start with the SQLite header."""
    if os.path.isdir(path):
        raise StoreError(f"cannot open {path!r} as a blazen store: it is a directory")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot open {path!r} as a blazen store: {exc}") from exc
    if head and head != SQLITE_HEADER:
        raise StoreError(
            f"{path!r} is not a blazen store: it is not an SQLite database (left unchanged)"
        )


def _schema_version(conn: sqlite3.Connection, path: str) -> int:
    """The file's blazen schema version (0 for an empty file), read without writing."""
    names = {row[0]: row[1] for row in conn.execute("SELECT name, type FROM sqlite_master")}
    tables = {name for name, kind in names.items() if kind == "table"}
    user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if not names and user_version == 0:
        return 0
    meta = (
        dict(conn.execute("SELECT key, value FROM blazen_meta")) if "blazen_meta" in tables else {}
    )
    if meta.get("application") != APPLICATION:
        listed = ", ".join(sorted(tables)) or "none"
        raise StoreError(
            f"{path!r} is an SQLite database but not a blazen store (no blazen marker; tables:"
            f" {listed}); it was left unchanged"
        )
    version = max(user_version, int(meta.get("schema_version", 0)))
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path!r} was written by a newer blazen (store schema version {version}; this"
            f" blazen reads up to {SCHEMA_VERSION}); upgrade blazen. The file was left unchanged"
        )
    return version


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Apply the missing migrations in one write transaction (another process may race us)."""
    with write_txn(conn):
        version = _schema_version(conn, path)
        for number, script in MIGRATIONS:
            if number > version:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR REPLACE INTO blazen_meta (key, value) VALUES ('schema_version', ?)",
                    (str(number),),
                )
                conn.execute(f"PRAGMA user_version = {number}")


def _statements(script: str) -> Iterator[str]:
    """Split an SQL script into complete statements (``executescript`` would commit first)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise StoreError(f"incomplete SQL statement in a migration: {buffer.strip()[:80]!r}")
