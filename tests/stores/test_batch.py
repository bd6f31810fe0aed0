"""The shared encoded batch: validation, stored columns, blob map, final status, event rules."""

from __future__ import annotations

import pytest

from blazen.errors import StoreError
from blazen.stores._batch import encode_batch, encode_start, event_problem
from blazen.stores._codec import CREATE_STEP, INLINE_LIMIT, pack
from blazen.stores.base import Commit

from .helpers import B, J, N, ev

BIG = b"b" * INLINE_LIMIT


def test_values_become_stored_columns_and_one_blob_map() -> None:
    big = B(BIG)
    batch = encode_batch(
        [
            Commit("s1", writes={"j": J({"a": 1}), "gone": None, "big": big}),
            Commit("s2", writes={"again": B(bytes(BIG)), "n": N(BIG)}, result=big),
        ]
    )
    first, second = batch.commits
    assert first.writes[0] == ("j", ("json", pack({"a": 1}), None))
    assert first.writes[1] == ("gone", (None, None, None))
    kind, data, _ = first.writes[2][1]
    assert (kind, data) == ("bytes", None)
    (digest,) = batch.blobs  # Bytes and Native with one payload share the blob
    assert batch.blobs[digest].payload is big.data
    assert batch.blobs[digest].refs == 4
    assert second.result is not None
    assert second.result == ("bytes", None, digest)
    assert second.source.writes["n"] == N(BIG)


def test_event_data_and_collect_buffers_are_encoded_once() -> None:
    batch = encode_batch(
        [Commit("s", emitted=(ev("e1", data={"x": [1]}, source_step="a"),), collected={"T": [1]})]
    )
    (commit,) = batch.commits
    assert commit.emitted[0] == ("e1", "T", "a", None, pack({"x": [1]}))
    assert commit.collected == pack({"T": [1]})


@pytest.mark.parametrize(
    ("commit", "message"),
    [
        (Commit("s", writes={1: J(1)}), "context keys must be str, not int"),  # type: ignore[dict-item]
        (Commit("s", writes={"k": b"raw"}), "context value for 'k' is bytes, not StateValue"),  # type: ignore[dict-item]
        (Commit("s", result="r"), "context value for '<result>' is str, not StateValue"),  # type: ignore[arg-type]
        (Commit("s", status="done"), "unknown run status 'done'"),  # type: ignore[arg-type]
        (Commit("s", emitted=(ev("e", data=object()),)), "cannot encode object with msgpack"),
        (Commit("s", collected={"T": [object()]}), "cannot encode dict with msgpack"),
    ],
)
def test_what_no_store_can_hold_is_refused(commit: Commit, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        encode_batch([Commit("ok"), commit])


def test_the_final_status_and_error_are_the_last_ones_set() -> None:
    batch = encode_batch(
        [Commit("a", status="waiting", error="x"), Commit("b", status="failed"), Commit("c")]
    )
    assert (batch.status, batch.error) == ("failed", "x")
    assert (encode_batch([Commit("a")]).status, encode_batch([]).error) == (None, None)


def test_commit_zero_holds_the_whole_starting_state() -> None:
    batch = encode_start([ev("s")], {"k": J(1)}, {"T": []})
    (commit,) = batch.commits
    assert (commit.step, [e[0] for e in commit.emitted]) == (CREATE_STEP, ["s"])
    assert [key for key, _ in commit.writes] == ["k"]
    assert commit.collected == pack({"T": []})


@pytest.mark.parametrize(
    ("commits", "intra"),
    [
        ([Commit("a", emitted=(ev("x"),)), Commit("b", consumed=("x",))], False),
        ([Commit("a", consumed=("outside",))], False),
        ([Commit("a", consumed=("x",), emitted=(ev("x"),))], True),
        ([Commit("a", consumed=("x",)), Commit("b", emitted=(ev("x"),))], True),
        ([Commit("a", consumed=("x", "x"))], True),
        ([Commit("a", consumed=("x",)), Commit("b", consumed=("x",))], True),
        ([Commit("a", emitted=(ev("x"), ev("x")))], True),
        ([Commit("a", emitted=(ev("x"),)), Commit("b", emitted=(ev("x"),))], True),
    ],
)
def test_a_batch_misusing_event_ids_on_its_own_is_marked(
    commits: list[Commit], intra: bool
) -> None:
    assert encode_batch(commits).intra_problem is intra


def test_event_problem_names_the_first_misuse_in_commit_order() -> None:
    batch = encode_batch(
        [
            Commit("a", consumed=("p",), emitted=(ev("n1"),)),
            Commit("b", consumed=("n1", "c")),
            Commit("c", emitted=(ev("p"),)),
        ]
    )
    pending = {"p": True, "c": True}
    message = str(event_problem(batch, "r", 5, pending.get))
    assert (
        message
        == "run 'r': commit 7 emits event 'p', but the run already has an event with that id"
    )
    consumed = {"p": True, "c": False}
    message = str(event_problem(batch, "r", 5, consumed.get))
    assert message == "run 'r': commit 6 consumes event 'c', which is not pending"
    assert event_problem(encode_batch([Commit("a", consumed=("p",))]), "r", 1, pending.get) is None
    assert event_problem(encode_batch([Commit("a", consumed=("u",))]), "r", 1, {}.get) is not None


def test_events_consumed_later_in_the_batch_are_mapped_to_their_consumer() -> None:
    batch = encode_batch(
        [
            Commit("a", consumed=("outside",), emitted=(ev("e1"), ev("e2"))),
            Commit("b", consumed=("e1",), emitted=(ev("e3"),)),
            Commit("c", consumed=("e3", "e2")),
        ]
    )
    assert not batch.intra_problem
    # commit indexes in the batch; "outside" was pending before it: not in the map
    assert batch.consumed_in == {"e1": 1, "e3": 2, "e2": 2}
