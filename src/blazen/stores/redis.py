"""``RedisStore``: a checkpoint store in Redis, shared by many processes on many machines.

Every commit batch is one Lua script (``EVALSHA``), atomic on the server: it checks the owner
and the consumed events, then appends the batch to the run's log. All keys of a store share
one hash tag (``{prefix}``), so they live in one slot. Large blobs move in pieces
(``_redis_blobs``). The redis driver is imported only by the ``redis``/``_redis_*`` modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis import exceptions as rexc

from blazen.errors import StoreError
from blazen.stores import _redis_blobs as blobs
from blazen.stores import _redis_codec as codec
from blazen.stores import _redis_lease as lease_lua
from blazen.stores import _redis_lua as lua
from blazen.stores._base import EventRow, RunHead, StoreBase
from blazen.stores._batch import EncodedBatch
from blazen.stores._codec import STREAM_LIMIT
from blazen.stores._errors import Refusal, Refused
from blazen.stores._location import public_url
from blazen.stores._loops import PerLoop
from blazen.stores._redis_lease import RedisLeases
from blazen.stores._rows import load_seq
from blazen.stores.base import (
    CheckpointInfo,
    LoadedRun,
    RunRecord,
    RunStatus,
)

__all__ = ["APPLICATION", "SCHEMA_VERSION", "RedisStore", "parse_url"]

APPLICATION = "blazen"
SCHEMA_VERSION = 2
DEFAULT_PREFIX = "blazen"
CONNECT_TIMEOUT_S = 10.0
_ATTEMPTS = 4
EAGER_BLOB_LIMIT = 64 * 1024
"""Blobs smaller than this go with the first commit attempt; larger ones only when missing."""
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def parse_url(url: str) -> tuple[str, str, str]:
    """``(driver URL, key prefix, host:port)`` of ``redis://host:port/db?prefix=NAME``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss"):
        raise StoreError(f"not a Redis store URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
    if not prefix or any(c in prefix for c in "{}"):
        raise StoreError(f"the Redis store prefix must be non-empty without braces: {prefix!r}")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise StoreError(f"bad port in Redis store URL {url!r}: {exc}") from None
    database = parts.path.lstrip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise StoreError(
            f"bad database {database!r} in Redis store URL {url!r}: the path must be a database"
            " number such as /0 (or empty)"
        )
    where = f"{parts.hostname or 'localhost'}:{port}"
    return urlunsplit(parts._replace(query=rest)), prefix, where


class _Keys:
    """The key names of one store: ``{prefix}:…``, one hash tag for all of them."""

    def __init__(self, prefix: str) -> None:
        self.tag = "{" + prefix + "}"
        self.meta, self.refs = f"{self.tag}:meta", f"{self.tag}:refs"
        self.runs, self.clock = f"{self.tag}:runs", f"{self.tag}:clock"

    def run(self, run_id: str) -> list[str]:
        """The run's hash, log, event states and blob set, then the shared refs and runs."""
        names = ("run", "log", "ev", "rblobs")
        return [*(f"{self.tag}:{name}:{run_id}" for name in names), self.refs, self.runs]

    def blob(self, digest: bytes) -> str:
        """The key of a content-addressed blob."""
        return f"{self.tag}:blob:{digest.hex()}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key of the store."""
        return self.tag.translate(_GLOB_SPECIAL) + ":*"


@dataclass(frozen=True, slots=True)
class _Client:
    """One event loop's redis client and the store's scripts registered on it."""

    redis: aioredis.Redis
    scripts: dict[str, Any]


class RedisStore(RedisLeases, StoreBase):
    """A ``CheckpointStore`` in Redis; each event loop gets its own client on its first call."""

    def __init__(self, url: str = "redis://localhost:6379/0") -> None:
        self._url, self.prefix, self.where = parse_url(url)
        self.keys = _Keys(self.prefix)
        self._clients: PerLoop[_Client] = PerLoop(self._open, _close_client, _forget)
        self._checked = False

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """A store for ``redis://host:port/db?prefix=NAME`` (prefix ``blazen`` by default)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, prefix={self.prefix!r})"

    @property
    def location(self) -> str:
        """``redis://user@host:port/db?prefix=NAME``, without the password."""
        return public_url(self._url, ("prefix", self.prefix))

    # -- connection ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Map the driver's exceptions to ``StoreError`` naming the server."""
        try:
            yield
        except (rexc.ConnectionError, rexc.TimeoutError) as exc:
            raise StoreError(f"cannot reach Redis at {self.where}: {exc}") from exc
        except rexc.RedisError as exc:
            raise StoreError(f"Redis store at {self.where}: {exc}") from exc

    async def _open(self) -> _Client:
        """A client for the running loop, with the store's scripts registered on it."""
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        texts = lua.SCRIPTS
        scripts = {name: client.register_script(text) for name, text in texts.items()}
        return _Client(client, scripts)

    async def _client(self) -> _Client:
        """The running loop's client, checking the store's marker on first use."""
        client = await self._clients.get()
        if not self._checked:
            with self._errors():
                await self._check_marker(client)
            self._checked = True
        return client

    async def _conn(self) -> aioredis.Redis:
        """The running loop's redis client."""
        return (await self._client()).redis

    async def _check_marker(self, client: _Client) -> None:
        """Refuse a prefix holding foreign keys or a newer schema; mark a new store."""
        meta = cast(dict[bytes, bytes], await client.redis.hgetall(self.keys.meta))
        if not meta:
            meta = await self._mark_new(client)
        app, version = meta.get(b"application"), meta.get(b"schema_version", b"0")
        if app != APPLICATION.encode():
            raise StoreError(
                f"Redis at {self.where}: {self.keys.meta} does not mark a blazen store"
                f" (application={app!r})"
            )
        if int(version) > SCHEMA_VERSION:
            raise StoreError(
                f"Redis at {self.where}: prefix {self.prefix!r} was written by a newer blazen"
                f" (schema version {int(version)}; this blazen reads up to {SCHEMA_VERSION})"
            )
        if int(version) < SCHEMA_VERSION:
            await client.scripts["MIGRATE"](keys=[self.keys.meta], args=[self.keys.tag])

    async def _mark_new(self, client: _Client) -> dict[bytes, bytes]:
        """Write the marker on an empty prefix; ``StoreError`` if it holds foreign keys."""
        async for key in client.redis.scan_iter(match=self.keys.pattern(), count=1000):
            meta = cast(dict[bytes, bytes], await client.redis.hgetall(self.keys.meta))
            if meta:  # another process marked the prefix meanwhile
                return meta
            raise StoreError(
                f"Redis at {self.where}: prefix {self.prefix!r} holds keys that are not a"
                f" blazen store (no {self.keys.meta} marker, e.g. {key.decode()!r});"
                " choose another prefix"
            )
        reply = await client.scripts["INIT"](
            keys=[self.keys.meta], args=[APPLICATION, SCHEMA_VERSION]
        )
        return _fields(reply)

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of the store's Lua scripts."""
        client = await self._client()
        with self._errors():
            return await client.scripts[name](keys=keys, args=args)

    # -- writes (see StoreBase) ------------------------------------------------------------

    async def _insert_run(self, head: RunHead, batch: EncodedBatch) -> None:
        run = [head.owner or "", head.status, "", head.workflow_name, head.metadata]
        prefix = lease_lua.write_prefix("create", None, head.lease, batch)
        await self._write(head.run_id, ["create", *run], batch, "WRITE", prefix)

    async def _append(self, run_id: str, owner: str, epoch: int | None, batch: EncodedBatch) -> int:
        error = "" if batch.error is None else "=" + batch.error
        prefix = lease_lua.write_prefix("commit", epoch, 0.0, batch)
        head = ["commit", owner, batch.status or "", error, "", b""]
        return await self._write(run_id, head, batch, "WRITE", prefix)

    async def _write(
        self,
        run_id: str,
        head: list[Any],
        batch: EncodedBatch,
        script: str = "COMMIT",
        prefix: Sequence[Any] = (),
    ) -> int:
        """Run the commit script (or ``script`` with ``prefix`` arguments first); a blob the
        server lacks is sent (large ones staged) and the script run again. Staging keys left
        by a refused write are deleted."""
        keys = [*self.keys.run(run_id), self.keys.clock]
        args = [self.keys.tag, run_id, *head, *codec.commit_args(batch)]
        how: dict[bytes, tuple[str, bytes | str]] = {
            digest: ("d", blob.payload) if len(blob.payload) < EAGER_BLOB_LIMIT else ("k", "")
            for digest, blob in batch.blobs.items()
        }
        staged: list[str] = []
        try:
            for _ in range(_ATTEMPTS):
                reply = await self._script(script, keys, [*prefix, *args, *codec.blob_args(how)])
                if reply[0] != lua.R_MISSING_BLOBS:
                    return _commit_result(reply)
                for digest in (bytes.fromhex(h.decode()) for h in reply[1]):
                    how[digest] = await self._send(digest, batch.blobs[digest].payload, staged)
        finally:
            if staged:
                await self._drop(staged)
        raise StoreError(f"run {run_id!r}: blobs kept vanishing while committing; try again")

    async def _drop(self, keys: list[str]) -> None:
        """Delete staging keys (those the commit script renamed are gone already)."""
        client = await self._conn()
        with self._errors():
            await client.delete(*keys)

    async def _send(
        self, digest: bytes, payload: bytes, staged: list[str]
    ) -> tuple[str, bytes | str]:
        """How to send a missing blob: inline, or (large) staged in pieces first."""
        if len(payload) < STREAM_LIMIT:
            return "d", payload
        client = await self._conn()
        with self._errors():
            key = await blobs.stage(client, self.keys.tag, digest, payload)
        staged.append(key)
        return "s", key

    async def _event_states(self, run_id: str, event_ids: Sequence[str]) -> dict[str, bool]:
        if not event_ids:
            return {}
        client = await self._conn()
        with self._errors():
            states = await client.hmget(self.keys.run(run_id)[2], list(event_ids))
        return {eid: s == b"p" for eid, s in zip(event_ids, states, strict=True) if s is not None}

    async def _claim(self, run_id: str, owner: str, lease: float) -> RunRecord | None:
        args = [self.keys.tag, run_id, owner, int(lease * 1e6)]
        reply = await self._script("CLAIM_LEASED", [], args)
        return None if reply is None else codec.record(run_id, _fields(reply))

    async def _delete(self, run_id: str) -> bool:
        await self._script("FORGET", [], [self.keys.tag, run_id])
        return not await self._script("DELETE", self.keys.run(run_id), [self.keys.tag, run_id])

    # -- reads -----------------------------------------------------------------------------

    async def _read(self, run_id: str, end: int = -1) -> tuple[RunRecord, list[bytes]] | None:
        """The run's record and log elements ``0..end``, read in one transaction."""
        client = await self._conn()
        run_key, log_key = self.keys.run(run_id)[:2]
        with self._errors():
            async with client.pipeline(transaction=True) as pipe:
                pipe.hgetall(run_key)
                pipe.lrange(log_key, 0, end)
                fields, log = await pipe.execute()
        return (codec.record(run_id, fields), log) if fields else None

    async def _load(self, run_id: str, seq: int | None) -> LoadedRun | None:
        read = await self._read(run_id, -1 if seq is None else max(seq, 0))
        if read is None:
            return None
        record, log = read
        at = load_seq(record, seq)
        replay = codec.Replay.of(codec.decode_log(log[: at + 1]))
        client = await self._conn()
        with self._errors():
            payloads = await blobs.fetch(client, self.keys.blob, replay.digests())
        return LoadedRun(
            record,
            at,
            replay.values(payloads),
            replay.pending_events(),
            replay.collected,
            replay.result_value(payloads),
        )

    async def _get(self, run_id: str) -> RunRecord | None:
        client = await self._conn()
        with self._errors():
            fields = cast(dict[bytes, bytes], await client.hgetall(self.keys.run(run_id)[0]))
        return codec.record(run_id, fields) if fields else None

    async def _list(
        self, workflow_name: str | None, status: RunStatus | None, limit: int
    ) -> list[RunRecord]:
        wf = "" if workflow_name is None else "=" + workflow_name
        args = [self.keys.tag, wf, status or "", limit]
        ids, rows = await self._script("LIST", [self.keys.runs], args)
        return [
            codec.record(rid.decode(), _fields(row))
            for rid, row in zip(ids, rows, strict=True)
            if row
        ]

    async def _find(self, id_prefix: str, limit: int) -> list[RunRecord]:
        """A ``ZSCAN`` of the run index matching ``prefix*``, then the records found."""
        client = await self._conn()
        pattern = id_prefix.translate(_GLOB_SPECIAL) + "*"
        scan = client.zscan_iter(self.keys.runs, match=pattern, count=1000)
        with self._errors():
            ids = sorted({member.decode() async for member, _ in scan})[:limit]
            async with client.pipeline(transaction=False) as pipe:
                for run_id in ids:
                    pipe.hgetall(self.keys.run(run_id)[0])
                rows = await pipe.execute()
        found = zip(ids, cast(list[dict[bytes, bytes]], rows), strict=True)
        return [codec.record(run_id, fields) for run_id, fields in found if fields]

    async def _checkpoints(self, run_id: str) -> list[CheckpointInfo] | None:
        client = await self._conn()
        run_key, log_key = self.keys.run(run_id)[:2]
        with self._errors():
            async with client.pipeline(transaction=True) as pipe:
                pipe.hgetall(run_key)
                pipe.lrange(log_key, 0, -1)
                pipe.lrange(lease_lua.extra_keys(self.keys.tag, run_id)[0], 0, -1)
                fields, log, marks = await pipe.execute()
        if not fields:
            return None
        epochs = lease_lua.epochs_by_seq(marks, len(log) - 1)
        return codec.checkpoints(codec.decode_log(log), epochs)

    async def _events(self, run_id: str) -> list[EventRow] | None:
        read = await self._read(run_id)
        return None if read is None else codec.events(codec.decode_log(read[1]))

    async def _close(self) -> None:
        """Close every loop's client."""
        await self._clients.close()


async def _close_client(client: _Client) -> None:
    """Close a client's connections, in its own loop."""
    with contextlib.suppress(rexc.RedisError, OSError):
        await client.redis.aclose()


def _forget(client: _Client) -> None:
    """A client whose loop is gone: its sockets went with the loop; nothing to await."""


def _fields(reply: Sequence[bytes]) -> dict[bytes, bytes]:
    """A hash's fields from a script's ``HGETALL`` reply (a flat list)."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


_REFUSALS = {
    lua.R_FINISHED: Refusal.FINISHED,
    lua.R_UNKNOWN: Refusal.UNKNOWN_RUN,
    lua.R_EXISTS: Refusal.RUN_EXISTS,
    lua.R_CONFLICT: Refusal.NOT_OWNER,
    lua.R_NOT_PENDING: Refusal.EVENTS,
    lua.R_DUPLICATE: Refusal.EVENTS,
}


def _commit_result(reply: list[Any]) -> int:
    """The last seq of a successful commit script; ``Refused`` for a refusal's reply code."""
    if reply[0] == lua.OK:
        return int(reply[1])
    raise Refused(_REFUSALS[reply[0]])
