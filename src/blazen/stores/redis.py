"""``RedisStore``: a checkpoint store in Redis, shared by many processes on many machines.

Every commit batch is one Lua script (``EVALSHA``), atomic on the server: it checks the owner
and the consumed events, then appends the batch to the run's log. All keys of a store share
one hash tag (``{prefix}``), so they live in one slot. The redis driver is imported only here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis import exceptions as rexc

from blazen.errors import StoreConflictError, StoreError
from blazen.stores import _redis_codec as codec
from blazen.stores import _redis_lua as lua
from blazen.stores._codec import pack, start_commit, unknown_run
from blazen.stores._loops import PerLoop
from blazen.stores.base import (
    CheckpointInfo,
    Commit,
    LoadedRun,
    PendingEvent,
    RunRecord,
    RunStatus,
)
from blazen.values import StateValue

__all__ = ["APPLICATION", "SCHEMA_VERSION", "RedisStore", "parse_url"]

APPLICATION = "blazen"
SCHEMA_VERSION = 1
DEFAULT_PREFIX = "blazen"
CONNECT_TIMEOUT_S = 10.0
_ATTEMPTS = 4
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


class RedisStore:
    """A ``CheckpointStore`` in Redis; each event loop gets its own client on its first call."""

    def __init__(self, url: str = "redis://localhost:6379/0") -> None:
        self._url, self.prefix, self.where = parse_url(url)
        self.keys = _Keys(self.prefix)
        self._clients: PerLoop[_Client] = PerLoop(self._open, _close_client, _forget)
        self._checked = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """A store for ``redis://host:port/db?prefix=NAME`` (prefix ``blazen`` by default)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"RedisStore({self.where!r}, prefix={self.prefix!r})"

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
        scripts = {name: client.register_script(text) for name, text in lua.SCRIPTS.items()}
        return _Client(client, scripts)

    async def _client(self) -> _Client:
        """The running loop's client, checking the store's marker on first use."""
        if self._closed:
            raise StoreError(f"the Redis store {self.where} ({self.prefix}) is closed")
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

    # -- writes ----------------------------------------------------------------------------

    async def create_run(
        self,
        run_id: str,
        workflow_name: str,
        *,
        owner: str,
        context_state: Mapping[str, StateValue],
        pending: Sequence[PendingEvent],
        collected: Mapping[str, list[Any]],
        metadata: Mapping[str, Any],
        status: RunStatus = "running",
    ) -> None:
        """Write commit 0 of a new run; ``StoreConflictError`` if the id exists."""
        start = start_commit(pending, context_state, collected)
        head = ["create", owner, status, "", workflow_name, pack(dict(metadata))]
        await self._write(run_id, head, [start], owner)

    async def commit(self, run_id: str, commits: Sequence[Commit], *, owner: str) -> int:
        """Apply ``commits`` in order, in one script run; return the last seq."""
        batch = codec.encode_batch(commits)
        error = "" if batch.error is None else "=" + batch.error
        head = ["commit", owner, batch.status or "", error, "", b""]
        return await self._write(run_id, head, commits, owner, batch)

    async def _write(
        self,
        run_id: str,
        head: list[Any],
        commits: Sequence[Commit],
        owner: str,
        batch: codec.Batch | None = None,
    ) -> int:
        """Run the commit script, sending large blobs only when the server lacks them."""
        if batch is None:
            batch = codec.encode_batch(commits)
        keys = [*self.keys.run(run_id), self.keys.clock]
        send = {h for h, payload in batch.blobs.items() if len(payload) < codec.EAGER_BLOB_LIMIT}
        for _ in range(_ATTEMPTS):
            args = [self.keys.tag, run_id, *head, *batch.args(send)]
            reply = await self._script("COMMIT", keys, args)
            if reply[0] != lua.R_MISSING_BLOBS:
                return _commit_result(reply, run_id, owner)
            send |= {digest.decode() for digest in reply[1]}
        raise StoreError(f"run {run_id!r}: blobs kept vanishing while committing; try again")

    async def claim(self, run_id: str, owner: str) -> RunRecord:
        """Make ``owner`` the run's owner (a later commit by the old owner fails)."""
        reply = await self._script("CLAIM", self.keys.run(run_id)[:1], [owner])
        if reply is None:
            raise unknown_run(run_id)
        return codec.record(run_id, _fields(reply))

    async def delete_run(self, run_id: str) -> None:
        """Delete the run and the blobs no other run references."""
        if await self._script("DELETE", self.keys.run(run_id), [self.keys.tag, run_id]):
            raise unknown_run(run_id)

    # -- reads -----------------------------------------------------------------------------

    async def _read(self, run_id: str, end: int = -1) -> tuple[RunRecord, list[bytes]]:
        """The run's record and log elements ``0..end``, read in one transaction."""
        client = await self._conn()
        run_key, log_key = self.keys.run(run_id)[:2]
        with self._errors():
            async with client.pipeline(transaction=True) as pipe:
                pipe.hgetall(run_key)
                pipe.lrange(log_key, 0, end)
                fields, log = await pipe.execute()
        if not fields:
            raise unknown_run(run_id)
        return codec.record(run_id, fields), log

    async def load(self, run_id: str, seq: int | None = None) -> LoadedRun:
        """The run's state after commit ``seq`` (default: the last one)."""
        record, log = await self._read(run_id, -1 if seq is None else max(seq, 0))
        at = record.last_seq if seq is None else seq
        if not 0 <= at <= record.last_seq:
            raise StoreError(f"run {run_id!r} has no commit {seq} (last is {record.last_seq})")
        replay = codec.Replay.of(codec.decode_log(log[: at + 1]))
        blobs = await self._blobs(replay.digests())
        return LoadedRun(
            record,
            at,
            replay.values(blobs),
            replay.pending_events(),
            replay.collected,
            replay.result_value(blobs),
        )

    async def _blobs(self, digests: list[bytes]) -> dict[bytes, bytes]:
        """The payloads of the given blobs (one ``MGET``)."""
        if not digests:
            return {}
        client = await self._conn()
        with self._errors():
            payloads = await client.mget([self.keys.blob(d) for d in digests])
        return {d: p for d, p in zip(digests, payloads, strict=True) if isinstance(p, bytes)}

    async def get_run(self, run_id: str) -> RunRecord:
        """The run's record; ``StoreError`` naming the id when it is unknown."""
        client = await self._conn()
        with self._errors():
            fields = cast(dict[bytes, bytes], await client.hgetall(self.keys.run(run_id)[0]))
        if not fields:
            raise unknown_run(run_id)
        return codec.record(run_id, fields)

    async def list_runs(
        self,
        *,
        workflow_name: str | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, most recently updated first."""
        if limit <= 0:
            await self._conn()
            return []
        wf = "" if workflow_name is None else "=" + workflow_name
        args = [self.keys.tag, wf, status or "", limit]
        ids, rows = await self._script("LIST", [self.keys.runs], args)
        return [
            codec.record(rid.decode(), _fields(row))
            for rid, row in zip(ids, rows, strict=True)
            if row
        ]

    async def checkpoints(self, run_id: str) -> list[CheckpointInfo]:
        """The run's commit history, oldest first."""
        return codec.checkpoints(codec.decode_log((await self._read(run_id))[1]))

    async def events(self, run_id: str) -> list[tuple[int, PendingEvent, int | None]]:
        """Every event of the run as ``(emitted_seq, event, consumed_seq or None)``."""
        return codec.events(codec.decode_log((await self._read(run_id))[1]))

    async def close(self) -> None:
        """Close every loop's client; later calls raise ``StoreError``."""
        if self._closed:
            return
        self._closed = True
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


def _commit_result(reply: list[Any], run_id: str, owner: str) -> int:
    """The last seq of a successful commit script, or the error its reply code names."""
    code = reply[0]
    if code == lua.OK:
        return int(reply[1])
    if code == lua.R_UNKNOWN:
        raise unknown_run(run_id)
    if code == lua.R_EXISTS:
        raise StoreConflictError(f"run {run_id!r} already exists")
    if code == lua.R_CONFLICT:
        raise StoreConflictError(f"run {run_id!r} is owned by {reply[1].decode()!r}, not {owner!r}")
    seq, event_id = int(reply[1]), reply[2].decode()
    if code == lua.R_NOT_PENDING:
        raise StoreError(
            f"run {run_id!r}: commit {seq} consumes event {event_id!r}, which is not pending"
        )
    raise StoreError(f"run {run_id!r}: commit {seq} emits event {event_id!r}, a duplicate id")
