"""HMAC envelope: tamper detection at every byte, key handling, and the envelope layout."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from blazen.errors import SnapshotError
from blazen.snapshot import KEY_ENV, SerializedEvent, WorkflowSnapshot
from blazen.values import StateValue

KEY = b"k3y"
# Every way a changed signed snapshot is refused names why.
REFUSED = (
    "signature mismatch|not a signed envelope|malformed signed JSON envelope"
    "|not signed but a key was given|unknown signed-envelope version"
)


def small() -> WorkflowSnapshot:
    return WorkflowSnapshot.new(
        "wf",
        "r",
        context_state={"n": StateValue.Json(1), "b": StateValue.Bytes(b"\x00\x01")},
        pending_events=[SerializedEvent("E", {"x": b"\x02"}, "s")],
        timestamp="2026-01-01T00:00:00Z",
    )


def test_every_flipped_byte_of_signed_msgpack_is_rejected() -> None:
    data = small().to_bytes(key=KEY)
    assert WorkflowSnapshot.from_bytes(data, key=KEY) == small()
    for i in range(len(data)):
        for mask in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(SnapshotError, match=REFUSED):
                WorkflowSnapshot.from_bytes(bytes(bad), key=KEY)


def test_every_flipped_character_of_signed_json_is_rejected() -> None:
    text = small().to_json(key=KEY)
    assert WorkflowSnapshot.from_json(text, key=KEY) == small()
    for i in range(len(text)):
        bad = text[:i] + chr(ord(text[i]) ^ 0x01) + text[i + 1 :]
        with pytest.raises(SnapshotError, match=REFUSED):
            WorkflowSnapshot.load(bad, key=KEY)


def test_truncated_or_extended_signed_snapshots_are_rejected() -> None:
    data, text = small().to_bytes(key=KEY), small().to_json(key=KEY)
    for end in range(len(data)):
        with pytest.raises(SnapshotError, match=REFUSED):
            WorkflowSnapshot.from_bytes(data[:end], key=KEY)
    with pytest.raises(SnapshotError, match="signature mismatch"):
        WorkflowSnapshot.from_bytes(data + b"\x00", key=KEY)
    for extra in ("x", "}", '"', "0"):
        with pytest.raises(
            SnapshotError, match=r"signature mismatch|malformed signed JSON envelope"
        ):
            WorkflowSnapshot.from_json(text + extra, key=KEY)
    # whitespace around the envelope (a file's final newline) is not part of it
    assert WorkflowSnapshot.from_json(f" {text}\n", key=KEY) == small()


def test_envelope_layout() -> None:
    snap = small()
    plain, signed = snap.to_bytes(), snap.to_bytes(key=KEY)
    assert signed[:5] == b"\xc1BZS\x01"
    assert signed[37:] == plain
    assert signed[5:37] == hmac.new(KEY, signed[:5] + plain, hashlib.sha256).digest()
    text, signed_text = snap.to_json(), snap.to_json(key=KEY)
    mac = hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()
    assert signed_text == f'{{"blazen_hmac_sha256":"{mac}","snapshot":{text}}}'
    assert json.loads(signed_text)["snapshot"] == json.loads(text)


@pytest.mark.parametrize("fmt", ["bytes", "json"])
def test_key_rules(fmt: str) -> None:
    snap = small()
    signed = snap.to_bytes(key=KEY) if fmt == "bytes" else snap.to_json(key=KEY)
    plain = snap.to_bytes() if fmt == "bytes" else snap.to_json()
    with pytest.raises(SnapshotError, match="signature mismatch"):
        WorkflowSnapshot.load(signed, key=b"other")
    with pytest.raises(SnapshotError, match="is signed"):
        WorkflowSnapshot.load(signed)
    with pytest.raises(SnapshotError, match="not signed"):
        WorkflowSnapshot.load(plain, key=KEY)
    assert WorkflowSnapshot.load(signed, key=KEY.decode()) == snap  # str keys are UTF-8
    assert WorkflowSnapshot.load(plain) == snap


@pytest.mark.parametrize("fmt", ["bytes", "json"])
def test_environment_key_signs_and_verifies(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = small()
    monkeypatch.setenv(KEY_ENV, "from-env")
    signed: Any = snap.to_bytes() if fmt == "bytes" else snap.to_json()
    assert WorkflowSnapshot.load(signed) == snap
    assert WorkflowSnapshot.load(signed, key="from-env") == snap
    with pytest.raises(SnapshotError, match="mismatch"):
        WorkflowSnapshot.load(signed, key="an explicit key wins")
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(SnapshotError, match="is signed"):
        WorkflowSnapshot.load(signed)
    plain = snap.to_bytes() if fmt == "bytes" else snap.to_json()
    monkeypatch.setenv(KEY_ENV, "from-env")
    with pytest.raises(SnapshotError, match="not signed"):
        WorkflowSnapshot.load(plain)


def test_empty_environment_key_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "")
    assert small().to_bytes() == small().to_bytes(key=None)
    assert small().to_bytes()[:1] != b"\xc1"


@pytest.mark.parametrize("key", [b"", ""])
def test_empty_key_argument_is_rejected(key: bytes | str) -> None:
    with pytest.raises(SnapshotError, match="empty"):
        small().to_bytes(key=key)


def test_unknown_envelope_version_is_rejected() -> None:
    data = bytearray(small().to_bytes(key=KEY))
    data[4] = 2
    with pytest.raises(SnapshotError, match="envelope version 2"):
        WorkflowSnapshot.from_bytes(bytes(data), key=KEY)


def test_verification_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(len(a))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    WorkflowSnapshot.from_bytes(small().to_bytes(key=KEY), key=KEY)
    WorkflowSnapshot.from_json(small().to_json(key=KEY), key=KEY)
    assert calls == [32, 64]
