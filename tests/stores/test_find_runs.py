"""``find_runs(prefix)``: the runs whose id starts with a prefix, on every backend."""

from __future__ import annotations

import pytest

from blazen.errors import StoreError
from blazen.stores.base import CheckpointStore

from .helpers import new_run

IDS = [
    "69983c56-aaaa",
    "69983c56-bbbb",
    "69983d00-cccc",
    "a_b",
    "axb",
    "a%b",
    "a*b",
    "a[b]",
    "a\\b",
    "x\ud7ffa",
    "x\ue000b",
    "y\U0010ffffq",
    "z",
]


async def _ids(store: CheckpointStore, prefix: str, limit: int = 10) -> list[str]:
    return [r.run_id for r in await store.find_runs(prefix, limit=limit)]


async def test_find_runs_by_prefix(store: CheckpointStore) -> None:
    for i, run_id in enumerate(IDS):
        await new_run(store, run_id, workflow_name=f"wf{i}")
    assert await _ids(store, "69983c56") == ["69983c56-aaaa", "69983c56-bbbb"]
    assert await _ids(store, "69983c56-aaaa") == ["69983c56-aaaa"]  # a whole id is a prefix
    assert await _ids(store, "6998") == ["69983c56-aaaa", "69983c56-bbbb", "69983d00-cccc"]
    assert await _ids(store, "6998", limit=2) == ["69983c56-aaaa", "69983c56-bbbb"]
    assert await _ids(store, "6998", limit=0) == []
    assert await _ids(store, "69983c57") == []
    assert await _ids(store, "69983c56-aaaa-") == []
    (found,) = await store.find_runs("69983d")
    assert (found.run_id, found.workflow_name, found.status) == ("69983d00-cccc", "wf2", "running")


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a_", ["a_b"]),  # LIKE's _ and % match themselves only
        ("a%", ["a%b"]),
        ("a*", ["a*b"]),  # so do glob's *, ? and [
        ("a[", ["a[b]"]),
        ("a\\", ["a\\b"]),
        ("x\ud7ff", ["x\ud7ffa"]),  # the next code point skips the surrogates
        ("y\U0010ffff", ["y\U0010ffffq"]),  # the last code point has no next one
        ("", ["69983c56-aaaa", "69983c56-bbbb"]),  # every id starts with ""
    ],
)
async def test_special_characters_match_themselves(
    store: CheckpointStore, prefix: str, expected: list[str]
) -> None:
    for run_id in IDS:
        await new_run(store, run_id)
    assert await _ids(store, prefix, limit=len(expected)) == expected


async def test_find_runs_needs_a_str_and_an_open_store(store: CheckpointStore) -> None:
    with pytest.raises(StoreError, match="a run id prefix must be a str, not int"):
        await store.find_runs(7)  # type: ignore[arg-type]
    await store.close()
    with pytest.raises(StoreError, match="is closed"):
        await store.find_runs("a")
