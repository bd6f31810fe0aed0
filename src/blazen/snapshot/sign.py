"""Optional HMAC-SHA256 envelope, so a reader can tell a snapshot was not changed.

The unsigned forms are exactly the Rust-compatible layouts; a signed snapshot wraps them:

* MessagePack: ``C1 42 5A 53 01`` (``0xC1`` never starts a MessagePack value, then ``"BZS"``
  and envelope version 1), the 32-byte tag, then the unsigned snapshot bytes. The tag is
  HMAC-SHA256(key, the 5 header bytes + the unsigned snapshot bytes).
* JSON: ``{"blazen_hmac_sha256":"<64 lowercase hex>","snapshot":<unsigned JSON text>}`` with
  no whitespace; the tag is HMAC-SHA256(key, UTF-8 of the unsigned JSON text).

The key is the ``key=`` argument or, when that is ``None``, ``$BLAZEN_SNAPSHOT_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import TypeAlias

from blazen.errors import SnapshotError

__all__ = [
    "HEADER",
    "JSON_PREFIX",
    "KEY_ENV",
    "Key",
    "open_bytes",
    "open_text",
    "resolve_key",
    "sign_parts",
    "sign_text",
]

Key: TypeAlias = "bytes | str | None"

KEY_ENV = "BLAZEN_SNAPSHOT_KEY"
"""Environment variable holding the key used when no ``key=`` argument is given."""

HEADER = b"\xc1BZS\x01"
"""Start of a signed MessagePack snapshot: marker byte, ``BZS``, envelope version 1."""

MAC_SIZE = 32
JSON_PREFIX = '{"blazen_hmac_sha256":"'
_JSON_MIDDLE = '","snapshot":'


def resolve_key(key: Key) -> bytes | None:
    """The key as bytes: the argument, else ``$BLAZEN_SNAPSHOT_KEY``, else ``None`` (no signing)."""
    if key is None:
        key = os.environ.get(KEY_ENV) or None
        if key is None:
            return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot key is bytes or str, not {type(key).__name__}")
    if len(key) == 0:
        raise SnapshotError("a snapshot key cannot be empty")
    return bytes(key)


def sign_parts(key: bytes, parts: list[bytes]) -> list[bytes]:
    """Prefix the parts of an unsigned MessagePack snapshot with the envelope header and tag."""
    return [HEADER, _mac(key, [HEADER, *parts]), *parts]


def open_bytes(data: memoryview, key: bytes | None) -> memoryview:
    """The unsigned snapshot inside ``data``, after checking its tag when it is signed."""
    if len(data) == 0 or data[0] != HEADER[0]:
        if key is not None:
            raise SnapshotError(
                f"the snapshot is not signed but a key was given (key= or ${KEY_ENV}); "
                "refusing to load it unverified"
            )
        return data
    head = bytes(data[: len(HEADER)])
    if len(data) < len(HEADER) + MAC_SIZE or head[:4] != HEADER[:4]:
        raise SnapshotError("corrupt snapshot: starts with 0xC1 but is not a signed envelope")
    if head != HEADER:
        raise SnapshotError(f"unknown signed-envelope version {head[4]} (this blazen reads 1)")
    if key is None:
        raise SnapshotError(f"the snapshot is signed: pass key= or set ${KEY_ENV} to verify it")
    payload = data[len(HEADER) + MAC_SIZE :]
    _verify(_mac(key, [HEADER, payload]), bytes(data[len(HEADER) : len(HEADER) + MAC_SIZE]))
    return payload


def sign_text(key: bytes, text: str) -> str:
    """Wrap an unsigned JSON snapshot in the signed JSON envelope."""
    tag = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"{JSON_PREFIX}{tag}{_JSON_MIDDLE}{text}}}"


def open_text(text: str, key: bytes | None) -> str:
    """The unsigned JSON snapshot inside ``text``, after checking its tag when it is signed.

    Whitespace around the envelope (a trailing newline in a file) is not part of it.
    """
    text = text.strip(" \t\r\n")
    if not text.startswith(JSON_PREFIX):
        if key is not None:
            raise SnapshotError(
                f"the snapshot is not signed but a key was given (key= or ${KEY_ENV}); "
                "refusing to load it unverified"
            )
        return text
    start = len(JSON_PREFIX) + 2 * MAC_SIZE
    tag, rest = text[len(JSON_PREFIX) : start], text[start:]
    if not rest.startswith(_JSON_MIDDLE) or not rest.endswith("}"):
        raise SnapshotError("corrupt snapshot: malformed signed JSON envelope")
    if key is None:
        raise SnapshotError(f"the snapshot is signed: pass key= or set ${KEY_ENV} to verify it")
    payload = rest[len(_JSON_MIDDLE) : -1]
    expected = _mac(key, [payload.encode("utf-8", "surrogatepass")]).hex()
    _verify(expected.encode("ascii"), tag.encode("utf-8", "surrogatepass"))
    return payload


def _mac(key: bytes, parts: Iterable[bytes | memoryview]) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _verify(expected: bytes, actual: bytes) -> None:
    if not hmac.compare_digest(expected, actual):
        raise SnapshotError(
            "snapshot signature mismatch: the snapshot was changed or the key is wrong"
        )
