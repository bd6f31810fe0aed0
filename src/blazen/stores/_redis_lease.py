"""The Redis store's leases, queue and control: the ``RedisLeases`` hooks and their helpers.

Beside a run's hash (``owner``, ``epoch``, ``lease_until`` in µs, ``cancel_requested``) the
store keeps, per workflow, a ``queue:<wf>`` sorted set of queued runs (by creation time) and
a ``leases:<wf>`` sorted set of owned runs (by lease end), so a claim finds work without a
scan; ``epochs:<run>`` lists ``first_seq:epoch`` at each change of the committing epoch, and
``inbox:<run>`` holds the answers posted by ``respond``. Every change that gives a worker
something to do appends to the ``signals`` stream, which idle workers read blocking. Each
operation is one Lua script (``_lua/*.lua``, loaded by ``_redis_lua.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc

from blazen._owners import HOST
from blazen.stores import _redis_codec as codec
from blazen.stores._batch import EncodedBatch
from blazen.stores._codec import pack, unpack
from blazen.stores._coord import Claim, Grab, Grabbed
from blazen.stores._errors import Refusal, Refused
from blazen.stores.base import PendingEvent, Renewal, RunRecord, RunStatus, Subscription

__all__ = [
    "RedisLeases",
    "StreamListener",
    "epochs_by_seq",
    "extra_keys",
    "write_prefix",
]


class RedisLeases:
    """The lease hooks of ``RedisStore`` (its scripts, keys and commit path)."""

    _url: str
    keys: Any

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        raise NotImplementedError

    async def _write(
        self,
        run_id: str,
        head: list[Any],
        batch: EncodedBatch,
        script: str = "COMMIT",
        prefix: Sequence[Any] = (),
    ) -> int:
        raise NotImplementedError

    def _grabbed(self, run_id: str, reply: list[Any], ok: int = 1) -> Grabbed:
        """A claim script's ``{code, fields}`` reply as a ``Grabbed``."""
        code = int(reply[0])
        if code == 0:
            return Grabbed(Grab.UNKNOWN)
        record = codec.record(run_id, _fields(reply[1]))
        outcome = {ok: Grab.OK, 2: Grab.STATUS, 3: Grab.HELD}[code]
        return Grabbed(outcome, record)

    async def _acquire(self, claim: Claim) -> Grabbed:
        lease_us = int(claim.lease * 1e6)
        statuses = " ".join(claim.statuses)
        args = [self.keys.tag, claim.run_id, claim.owner, lease_us, statuses, *claim.dead]
        return self._grabbed(claim.run_id, await self._script("ACQUIRE", [], args))

    async def _acquire_next(
        self, owner: str, workflows: Sequence[str], lease: float, dead: Sequence[str]
    ) -> tuple[RunRecord | None, float | None, list[str]]:
        host = HOST + ":"  # only owners of this host can be known dead
        args = [self.keys.tag, owner, int(lease * 1e6), host, len(workflows), *workflows, *dead]
        reply = await self._script("ACQUIRE_NEXT", [], args)
        if int(reply[0]) == 1:
            return codec.record(reply[1].decode(), _fields(reply[2])), None, []
        left = None if reply[1] in (b"", "") else int(reply[1]) / 1e6
        return None, left, [o.decode() for o in reply[2]]

    async def _holders(self, workflows: Sequence[str], host: str) -> list[str]:
        reply = await self._script("HOLDERS", [], [self.keys.tag, host, *workflows])
        return [owner.decode() for owner in reply]

    async def _renew(self, held: Mapping[str, tuple[str, int]], lease: float) -> Renewal:
        args: list[Any] = [self.keys.tag, int(lease * 1e6)]
        for run_id, (owner, epoch) in held.items():
            args += [run_id, owner, str(epoch)]
        lost, cancel, inbox = await self._script("RENEW", [], args)
        return Renewal(*(frozenset(x.decode() for x in part) for part in (lost, cancel, inbox)))

    async def _end_lease(self, run_id: str, owner: str, epoch: int, requeue: bool) -> bool:
        args = [self.keys.tag, run_id, owner, str(epoch), "1" if requeue else "0"]
        return bool(await self._script("END_LEASE", [], args))

    async def _post(self, run_id: str, batch: EncodedBatch) -> Grab:
        prefix = write_prefix("post", None, 0.0, batch)
        try:
            await self._write(run_id, ["commit", "", "", "", "", b""], batch, "WRITE", prefix)
        except Refused as exc:
            if exc.refusal is Refusal.FINISHED:
                return Grab.STATUS
            if exc.refusal is Refusal.UNKNOWN_RUN:
                return Grab.UNKNOWN
            raise
        return Grab.OK

    async def _flag_cancel(self, run_id: str) -> Grabbed:
        reply = await self._script("FLAG_CANCEL", [], [self.keys.tag, run_id])
        return self._grabbed(run_id, reply)

    async def _requeue(
        self, run_id: str, dead: Sequence[str], statuses: frozenset[RunStatus]
    ) -> Grabbed:
        args = [self.keys.tag, run_id, " ".join(statuses), *dead]
        return self._grabbed(run_id, await self._script("REQUEUE", [], args))

    async def _inbox(self, run_id: str) -> list[PendingEvent] | None:
        reply = await self._script("INBOX", [], [self.keys.tag, run_id])
        if not int(reply[0]):
            return None
        events = []
        for event_id, packed in zip(reply[1::2], reply[2::2], strict=True):
            event_type, data, source = unpack(packed)
            events.append(PendingEvent(event_id.decode(), event_type, unpack(data), source, None))
        return events

    def subscribe(self) -> Subscription:
        """A blocking ``XREAD`` of the store's signal stream (its own client)."""
        return StreamListener(self._url, f"{self.keys.tag}:signals")


def write_prefix(mode: str, epoch: int | None, lease: float, batch: EncodedBatch) -> list[Any]:
    """``WRITE``'s own arguments: mode, epoch, lease (µs) and the posted events."""
    posted: list[Any] = []
    if mode == "post":
        for commit in batch.commits:
            for event_id, event_type, source_step, _, data in commit.emitted:
                posted += [event_id, pack([event_type, data, source_step])]
    head: list[Any] = [mode, "" if epoch is None else str(epoch), int(lease * 1e6)]
    return [*head, len(posted) // 2, *posted]


def extra_keys(tag: str, run_id: str) -> tuple[str, str]:
    """The run's ``epochs`` list and ``inbox`` hash."""
    return f"{tag}:epochs:{run_id}", f"{tag}:inbox:{run_id}"


def epochs_by_seq(entries: Sequence[bytes], last_seq: int) -> list[int]:
    """Each commit's epoch (index = seq) from the ``first_seq:epoch`` change list."""
    out = [0] * (last_seq + 1)
    marks = sorted(tuple(int(x) for x in e.decode().split(":")) for e in entries)
    for k, (first, epoch) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else last_seq + 1
        for seq in range(max(first, 0), min(end, last_seq + 1)):
            out[seq] = epoch
    return out


class StreamListener:
    """A ``Subscription``: blocking ``XREAD`` of the store's ``signals`` stream, on a client
    of its own (opened on the first wait). Errors make waits plain sleeps (polling)."""

    def __init__(self, url: str, key: str) -> None:
        self._url, self._key = url, key
        self._client: Any = None
        self._last: Any = "$"

    async def _open(self) -> Any:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=10)
        newest = await client.xrevrange(self._key, count=1)
        self._last = newest[0][0] if newest else "0-0"
        return client

    async def wait(self, timeout: float) -> bool:
        """Return on a new signal (``True``) or after ``timeout`` seconds (``False``)."""
        try:
            if self._client is None:
                self._client = await self._open()
            block = max(int(timeout * 1000), 1)
            reply = await self._client.xread({self._key: self._last}, count=100, block=block)
        except (rexc.RedisError, OSError):
            await self.close()
            await asyncio.sleep(max(timeout, 0.0))
            return False
        if not reply:
            return False
        self._last = reply[0][1][-1][0]
        return True

    async def close(self) -> None:
        """Close the client."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(rexc.RedisError, OSError):
                await client.aclose()


def _fields(reply: Sequence[bytes]) -> dict[bytes, bytes]:
    """A hash's fields from a script's ``HGETALL`` reply (a flat list)."""
    return dict(zip(reply[::2], reply[1::2], strict=True))
