"""Large blobs in Redis, moved in pieces: staged with ``APPEND`` and read with ``GETRANGE``.

A blob of at least ``STREAM_LIMIT`` bytes never travels as one command: the client appends
``CHUNK``-sized views of its buffer to a private staging key (which expires if the client
dies), and the commit script renames it to the blob's key atomically with the commit. A read
gets small blobs with one ``MGET`` and large ones in pieces into the one buffer returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from blazen.stores._codec import CHUNK, STREAM_LIMIT, Assembly, chunks

__all__ = ["STAGE_TTL_MS", "fetch", "stage"]

STAGE_TTL_MS = 3_600_000
"""A staging key left by a client that died mid-upload expires after an hour."""


async def stage(client: Any, tag: str, digest: bytes, payload: bytes) -> str:
    """Upload ``payload`` in pieces to a new staging key; return the key."""
    key = f"{tag}:upload:{digest.hex()}:{uuid.uuid4().hex}"
    for piece in chunks(payload):
        async with client.pipeline(transaction=False) as pipe:
            pipe.append(key, piece)
            pipe.pexpire(key, STAGE_TTL_MS)
            await pipe.execute()
    return key


async def fetch(
    client: Any, blob_key: Callable[[bytes], str], digests: Sequence[bytes]
) -> dict[bytes, bytes]:
    """The payloads of the given blobs that exist (small ones by one ``MGET``)."""
    if not digests:
        return {}
    keys = [blob_key(digest) for digest in digests]
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.strlen(key)
        sizes: list[int] = await pipe.execute()
    small = [i for i, size in enumerate(sizes) if 0 < size < STREAM_LIMIT]
    found: dict[bytes, bytes] = {}
    if small:
        payloads = await client.mget([keys[i] for i in small])
        found.update(
            (digests[i], p) for i, p in zip(small, payloads, strict=True) if isinstance(p, bytes)
        )
    for i, size in enumerate(sizes):
        if size >= STREAM_LIMIT:
            whole = Assembly(size)
            for start in range(0, size, CHUNK):
                whole.add(await client.getrange(keys[i], start, min(start + CHUNK, size) - 1))
            found[digests[i]] = whole.value()
    return found
