"""docs/snapshot-format.md says what the code does: field table, worked examples, envelope."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest

from blazen.errors import SnapshotError
from blazen.snapshot import SNAPSHOT_VERSION, SerializedEvent, WorkflowSnapshot
from blazen.snapshot._structure import TAGGED_METADATA_KEY
from blazen.snapshot.formats import FIELDS
from blazen.values import StateValue

DOC = Path(__file__).resolve().parents[2] / "docs" / "snapshot-format.md"
MSGPACK_TYPES: dict[str, type] = {
    "int": int,
    "str": str,
    "bin": bytes,
    "map": dict,
    "array": list,
}
BLOCK = re.compile(r"<!-- doc-test: ([\w-]+) -->\s*```\w*\n(.*?)```", re.S)
ROW = re.compile(r"^\| (\d+) \| `(\w+)` \| (\w+) \| (\w+) \| (yes|no) \|", re.M)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def blocks(doc: str) -> dict[str, str]:
    found = dict(BLOCK.findall(doc))
    assert set(found) == {"python", "hex", "json", "signed-hex", "signed-json"}
    return found


@pytest.fixture(scope="module")
def example(blocks: dict[str, str]) -> WorkflowSnapshot:
    names = {"WorkflowSnapshot": WorkflowSnapshot, "StateValue": StateValue}
    snap = eval(blocks["python"], {**names, "SerializedEvent": SerializedEvent})
    assert isinstance(snap, WorkflowSnapshot)
    return snap


def unhex(block: str) -> bytes:
    """The bytes of an annotated hex dump: everything after ``#`` on a line is a comment."""
    digits = "".join(line.split("#", 1)[0] for line in block.splitlines())
    return bytes.fromhex(re.sub(r"\s+", "", digits))


def test_title_names_the_current_version(doc: str) -> None:
    assert doc.startswith(f"# Snapshot format, version {SNAPSHOT_VERSION}\n")


def test_field_table_matches_a_real_snapshot(doc: str, example: WorkflowSnapshot) -> None:
    rows = ROW.findall(doc)
    assert [int(r[0]) for r in rows] == list(range(1, 9))
    raw: dict[str, Any] = msgpack.unpackb(example.to_bytes(), raw=False)
    assert [r[1] for r in rows] == list(raw) == list(FIELDS)
    for _, key, mp_type, _, _ in rows:
        assert type(raw[key]) is MSGPACK_TYPES[mp_type], key
    required = {r[1] for r in rows if r[4] == "yes"}
    for key in FIELDS:  # exactly the rows marked "no" may be left out
        partial = msgpack.packb({k: v for k, v in raw.items() if k != key}, use_bin_type=True)
        if key in required:
            with pytest.raises(SnapshotError, match=key):
                WorkflowSnapshot.from_bytes(partial)
        else:
            assert WorkflowSnapshot.from_bytes(partial).workflow_name == "wf"


def test_hex_example_is_what_to_bytes_writes(
    blocks: dict[str, str], example: WorkflowSnapshot
) -> None:
    data = unhex(blocks["hex"])
    assert example.to_bytes() == data
    assert example.to_msgpack() == data  # as the text says: no bytes in events or metadata
    assert WorkflowSnapshot.from_msgpack(list(data)) == example
    assert f"these {len(data)} bytes" in DOC.read_text(encoding="utf-8")
    assert WorkflowSnapshot.from_bytes(data) == example


def test_json_example_is_what_to_json_writes(
    blocks: dict[str, str], example: WorkflowSnapshot
) -> None:
    assert example.to_json() == blocks["json"].strip()
    assert WorkflowSnapshot.from_json(blocks["json"]) == example


def test_signed_examples_follow_the_envelope_rules(
    blocks: dict[str, str], example: WorkflowSnapshot
) -> None:
    plain, signed = example.to_bytes(), example.to_bytes(key="secret")
    head = unhex(blocks["signed-hex"])
    assert len(head) == 37
    assert signed == head + plain
    assert head[:5] == b"\xc1BZS\x01"
    assert head[5:] == hmac.new(b"secret", head[:5] + plain, hashlib.sha256).digest()
    text = blocks["signed-json"].strip()
    assert example.to_json(key="secret") == text
    tag = hmac.new(b"secret", example.to_json().encode(), hashlib.sha256).hexdigest()
    assert text == '{"blazen_hmac_sha256":"' + tag + '","snapshot":' + example.to_json() + "}"
    assert WorkflowSnapshot.load(text, key="secret") == example


def test_documented_stringly_facts(doc: str) -> None:
    """Names the doc promises exist: tags, built-in event types, env var, newer-version text."""
    for word in ("`Json`", "`Bytes`", "`Native`", "`$blazen`", "BLAZEN_SNAPSHOT_KEY"):
        assert word in doc
    for name in ("StartEvent", "StopEvent", "InputRequestEvent", "InputResponseEvent"):
        assert f"blazen::{name}" in doc
    assert "snapshot format version 7 is newer than this blazen supports (1)" in doc
    with pytest.raises(
        SnapshotError, match=re.escape("version 7 is newer than this blazen supports (1)")
    ):
        WorkflowSnapshot.from_json('{"version": 7}')


def test_documented_python_api_exists(doc: str, example: WorkflowSnapshot) -> None:
    """Every call the doc's Python section names is there, with the documented result types."""
    for method in ("context_state", "collected_events", "pending_events", "metadata"):
        assert f"`snap.{method}()`" in doc
        assert callable(getattr(example, method))
    for name in ("to_msgpack", "from_msgpack", "to_bytes", "from_bytes", "to_json_pretty"):
        assert f"`{name}(" in doc
        assert callable(getattr(WorkflowSnapshot, name))
    assert type(example.to_msgpack()) is bytes
    assert type(example.pending_events()[0]) is dict
    assert f'`"{TAGGED_METADATA_KEY}": true`' in doc
    assert repr(example).startswith('WorkflowSnapshot(workflow_name="wf", run_id=')
    assert "pending=1, refs=2)" in repr(example)


def test_doc_gives_workflow_resume_no_key_argument(doc: str) -> None:
    """Workflow.resume takes no key=; the doc must not say it does."""
    assert not re.search(r"resume\([^)]*key=", doc)
    assert "`Workflow.resume` takes no key" in " ".join(doc.split())


def test_documented_run_id_rules(doc: str) -> None:
    """A UUID run id is a 16-byte bin; any other id stays a str; both read back exactly."""
    assert "`bin` of exactly its 16 bytes" in doc
    for run_id, kind in (("00000000-0000-4000-8000-000000000001", bytes), ("r1", str)):
        snap = WorkflowSnapshot.new("wf", run_id)
        assert type(msgpack.unpackb(snap.to_bytes(), raw=False)["run_id"]) is kind
        assert WorkflowSnapshot.from_bytes(snap.to_bytes()).run_id == run_id
