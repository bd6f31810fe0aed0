"""Writes the golden snapshot files of format version 1 (run once; the outputs are fixtures).

    python tests/snapshot/golden/make_golden.py          # (re)write golden/v1/*
    python tests/snapshot/golden/make_golden.py --check  # exit 1 if the writer drifted

The files under ``golden/v1/`` are committed and must load, with the values that
``test_snapshot_golden.py`` lists, in every future blazen. Never regenerate them after a
release: add ``golden/v2/`` for a new format version instead. ``LEGACY`` files were written
by an older writer of the same version and are no longer produced (see ``golden/README.md``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import msgpack

try:
    import blazen  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from blazen.events import Event, InputRequestEvent, StartEvent, StopEvent
from blazen.snapshot import KEY_ENV, SerializedEvent, WorkflowSnapshot, encode_event
from blazen.values import StateValue

GOLDEN = Path(__file__).resolve().parent / "v1"
KEY = b"blazen-golden-key"
RUN_ID = "00000000-0000-4000-8000-000000000001"
TIMESTAMP = "2026-01-02T03:04:05.123456789Z"
# pickle.dumps((1, "two"), protocol=5), kept as literal bytes so the files never depend on
# the pickle module of whoever regenerates them.
NATIVE_PAIR = bytes.fromhex("8005950b000000000000004b018c0374776f9486942e")


class Analyze(Event):
    """A typed event used by the golden snapshot."""

    text: str
    score: float


def full_snapshot() -> WorkflowSnapshot:
    """Every StateValue kind and every event encoding rule, in one snapshot."""
    state = {
        "str": StateValue.Json("héllo ✓ 日本"),
        "int": StateValue.Json(42),
        "i64min": StateValue.Json(-(2**63)),
        "u64max": StateValue.Json(2**64 - 1),
        "float": StateValue.Json(0.25),
        "bool": StateValue.Json(True),
        "null": StateValue.Json(None),
        "nested": StateValue.Json({"a": [1, 2.5, {"b": None}], "$blazen": "not a tag here"}),
        "bytes": StateValue.Bytes(bytes(range(256))),
        "empty": StateValue.Bytes(b""),
        "native": StateValue.Native(NATIVE_PAIR),
    }
    analyze = Analyze(text="hi", score=0.5, raw=b"\x00\x01", pair=(1, "two"), esc={"$blazen": 7})
    pending = [
        SerializedEvent("Analyze", encode_event(analyze), "analyze"),
        SerializedEvent("Inline", encode_event(Event("Inline", note="n", blob=b"\xff")), None),
        SerializedEvent(
            "blazen::InputRequestEvent",
            encode_event(InputRequestEvent(request_id="q1", prompt="ok?", metadata={"m": 1})),
            "ask",
        ),
        SerializedEvent("blazen::StopEvent", encode_event(StopEvent(result={"answer": 42})), "end"),
    ]
    collected = {
        "blazen::StartEvent": [encode_event(StartEvent(query="hello", limit=10))],
        "Item": [{"i": 0, "label": "a"}, {"i": 1, "label": "b"}],
    }
    return WorkflowSnapshot.new(
        "golden-v1",
        RUN_ID,
        context_state=state,
        collected_events=collected,
        pending_events=pending,
        metadata={"custom": {"k": [1, "two"]}},
        timestamp=TIMESTAMP,
    )


def tiny_snapshot() -> WorkflowSnapshot:
    """A small snapshot, signed with ``KEY`` in the signed golden files."""
    return WorkflowSnapshot(1, "tiny", RUN_ID, TIMESTAMP, {"n": StateValue.Json(1)})


def minimal_bytes() -> bytes:
    """Only the required fields (no metadata/collected/pending), as another writer may emit."""
    fields: dict[str, Any] = {
        "version": 1,
        "workflow_name": "minimal",
        "run_id": RUN_ID,
        "timestamp": "2026-01-02T03:04:05Z",
        "context_state": {"b": {"Bytes": b"\x01\x02"}},
    }
    data: bytes = msgpack.packb(fields, use_bin_type=True)
    return data


LEGACY = {
    "full.msgpack": "full-uuid.msgpack",
    "signed.msgpack": "signed-uuid.msgpack",
}
"""Frozen files the writer no longer reproduces -> the current file holding the same snapshot.

They hold the run id as a MessagePack str; since blazen writes a UUID run id as its 16 bytes
(a ``bin``, as the Rust core does), their current twins differ only in that field.
"""


def outputs() -> dict[str, bytes]:
    """File name -> the bytes the current writer produces for it."""
    full, tiny = full_snapshot(), tiny_snapshot()
    return {
        "full-uuid.msgpack": full.to_bytes(key=None),
        "full-rust.msgpack": full.to_msgpack(key=None),
        "full.json": full.to_json(key=None).encode("utf-8"),
        "signed-uuid.msgpack": tiny.to_bytes(key=KEY),
        "signed.json": tiny.to_json(key=KEY).encode("utf-8"),
        "minimal.msgpack": minimal_bytes(),
    }


def main(argv: list[str]) -> int:
    """Write the files, or with ``--check`` report those the writer no longer reproduces."""
    os.environ.pop(KEY_ENV, None)  # the unsigned files must not pick up a key from the shell
    drifted = []
    for name, data in outputs().items():
        path = GOLDEN / name
        assert name not in LEGACY, f"{name} is frozen: never rewrite it"
        if "--check" in argv:
            if not path.exists() or path.read_bytes() != data:
                drifted.append(name)
        else:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for name in drifted:
        print(f"drifted: {name}")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
