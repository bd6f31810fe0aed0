"""Open a blazen PostgreSQL schema: refuse foreign or newer ones untouched, create or migrate.

The store lives in one PostgreSQL schema (``?schema=``, default ``blazen``) whose
``blazen_meta`` table holds the ``application`` marker and the ``schema_version``. Nothing is
written until the schema is known to be absent, empty, or a blazen store of this or an older
version; migrations run under a transaction-scoped advisory lock, so racing processes are fine.
"""

from __future__ import annotations

import re
from typing import Any

from blazen.errors import StoreError
from blazen.stores._sql import migrations

__all__ = ["SCHEMA_VERSION", "ensure_schema", "quote_ident", "valid_schema"]

APPLICATION = "blazen"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname"
)
_META = "SELECT key, value FROM {schema}.blazen_meta"
_SET_VERSION = (
    "INSERT INTO blazen_meta (key, value) VALUES ('schema_version', $1)"
    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)


MIGRATIONS = migrations("postgres")
SCHEMA_VERSION = MIGRATIONS[-1][0]


def valid_schema(name: str) -> str:
    """``name`` if it is a plain SQL identifier (so it can be quoted safely), else StoreError."""
    if not _IDENT.fullmatch(name):
        raise StoreError(f"invalid PostgreSQL schema name {name!r} (letters, digits and _)")
    return name


def quote_ident(name: str) -> str:
    """The schema name as a quoted SQL identifier."""
    return '"' + valid_schema(name) + '"'


async def _version(conn: Any, schema: str) -> int:
    """The schema's blazen version (0: absent or without tables), read without writing."""
    tables = [row[0] for row in await conn.fetch(_TABLES, schema)]
    if not tables:
        return 0
    meta: dict[str, str] = {}
    if "blazen_meta" in tables:
        meta = dict(await conn.fetch(_META.format(schema=quote_ident(schema))))
    if meta.get("application") != APPLICATION:
        raise StoreError(
            f"PostgreSQL schema {schema!r} is not a blazen store (no blazen marker; tables:"
            f" {', '.join(tables)}); it was left unchanged"
        )
    version = int(meta.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"PostgreSQL schema {schema!r} was written by a newer blazen (store schema version"
            f" {version}; this blazen reads up to {SCHEMA_VERSION}); upgrade blazen. The schema"
            " was left unchanged"
        )
    return version


async def ensure_schema(conn: Any, schema: str) -> None:
    """Check the schema, then create or migrate it (``conn`` has it on its search_path)."""
    if await _version(conn, schema) == SCHEMA_VERSION:
        return
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('blazen-migrate:' || $1))", schema
        )
        version = await _version(conn, schema)
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        for number, script in MIGRATIONS:
            if number > version:
                await conn.execute(script)
                await conn.execute(_SET_VERSION, str(number))
