"""The ``CheckpointStore`` contract: every test runs against every backend of ``conftest.py``."""

from __future__ import annotations

import asyncio
import os

import pytest

from blazen.errors import StoreConflictError, StoreError
from blazen.stores._base import StoreBase
from blazen.stores._batch import encode_batch
from blazen.stores._codec import CHUNK
from blazen.stores._errors import Refusal, Refused
from blazen.stores.base import CheckpointStore, Commit

from .conftest import Backend
from .helpers import B, J, N, ev, new_run

BIG = os.urandom(64 * 1024)


async def test_create_run_writes_commit_zero(store: CheckpointStore) -> None:
    state = {"a": J({"x": [1, 2.5, None, True]}), "b": B(b"\x00\xff"), "c": N(b"pickle")}
    pending = [ev("e1", "Start", target_step="s1"), ev("e2", "Start", target_step="s2")]
    collected = {"Item": [{"i": 0}]}
    await new_run(store, state=state, pending=pending, collected=collected, metadata={"m": [1]})
    record = await store.get_run("r1")
    assert (record.run_id, record.workflow_name, record.status) == ("r1", "wf", "running")
    assert (record.last_seq, record.owner, record.error) == (0, "me", None)
    assert record.metadata == {"m": [1]}
    assert record.created_at == record.updated_at
    loaded = await store.load("r1")
    assert loaded.seq == 0
    assert loaded.context_state == state
    assert loaded.pending == pending
    assert loaded.collected == collected
    assert loaded.result is None


async def test_create_run_with_status(store: CheckpointStore) -> None:
    await new_run(store, status="waiting")
    assert (await store.get_run("r1")).status == "waiting"


async def test_create_run_twice_conflicts(store: CheckpointStore) -> None:
    await new_run(store)
    with pytest.raises(StoreConflictError, match="r1"):
        await new_run(store, workflow_name="other")
    assert (await store.get_run("r1")).workflow_name == "wf"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_run("nope"),
        lambda s: s.load("nope"),
        lambda s: s.commit("nope", [Commit("x")], owner="me"),
        lambda s: s.claim("nope", "me"),
        lambda s: s.checkpoints("nope"),
        lambda s: s.events("nope"),
        lambda s: s.delete_run("nope"),
    ],
    ids=["get_run", "load", "commit", "claim", "checkpoints", "events", "delete_run"],
)
async def test_unknown_run_is_a_store_error_naming_it(store: CheckpointStore, call: object) -> None:
    with pytest.raises(StoreError, match="unknown run id 'nope'") as info:
        await call(store)  # type: ignore[operator]
    assert not isinstance(info.value, StoreConflictError)


async def test_commit_returns_consecutive_seqs(store: CheckpointStore) -> None:
    await new_run(store)
    assert await store.commit("r1", [Commit("s", writes={"k": J(1)})], owner="me") == 1
    batch = [Commit("s", writes={"k": J(i)}) for i in (2, 3, 4)]
    assert await store.commit("r1", batch, owner="me") == 4
    assert await store.commit("r1", [], owner="me") == 4
    assert [c.seq for c in await store.checkpoints("r1")] == [0, 1, 2, 3, 4]
    assert (await store.get_run("r1")).last_seq == 4


@pytest.mark.parametrize("size", [1, 5, 64, 85, 150])
async def test_a_long_chain_in_one_batch_is_written_whole_and_in_order(
    store: CheckpointStore, size: int
) -> None:
    """Sizes across the SQLite store's multi-row statements (64, 16, 4 and 1 rows each)."""
    await new_run(store)
    batch = [
        Commit(
            f"s{i}",
            consumed=("start" if i == 0 else f"e{i - 1}",),
            emitted=(ev(f"e{i}", data={"n": i}, source_step=f"s{i}"),),
            writes={"n": J(i), f"k{i}": B(bytes([i % 256]))},
            status="completed" if i == 3 else None,
            error="boom" if i == 4 else None,
        )
        for i in range(size)
    ]
    assert await store.commit("r1", batch, owner="me") == size
    assert [(c.seq, c.step) for c in await store.checkpoints("r1")][1:] == [
        (i + 1, f"s{i}") for i in range(size)
    ]
    for seq in sorted({1, size // 2 + 1, size}):
        loaded = await store.load("r1", seq)
        assert loaded.context_state == {
            "n": J(seq - 1),
            **{f"k{i}": B(bytes([i % 256])) for i in range(seq)},
        }
        assert [(p.event_id, p.data) for p in loaded.pending] == [(f"e{seq - 1}", {"n": seq - 1})]
    history = await store.events("r1")
    assert [(s, e.event_id, c) for s, e, c in history][1:] == [
        (i + 1, f"e{i}", i + 2 if i + 1 < size else None) for i in range(size)
    ]
    record = await store.get_run("r1")
    assert (record.status, record.error) == (
        "completed" if size > 3 else "running",
        "boom" if size > 4 else None,
    )


async def test_a_repeated_event_id_deep_in_a_long_batch_refuses_all_of_it(
    store: CheckpointStore,
) -> None:
    await new_run(store)
    batch = [Commit(f"s{i}", emitted=(ev(f"e{i}"),), writes={"n": J(i)}) for i in range(100)]
    batch.append(Commit("again", emitted=(ev("e70"),)))
    with pytest.raises(StoreError, match="e70"):
        await store.commit("r1", batch, owner="me")
    assert (await store.get_run("r1")).last_seq == 0
    assert (await store.load("r1")).context_state == {}


async def test_load_rebuilds_every_seq(store: CheckpointStore) -> None:
    await new_run(store, state={"a": J(0), "gone": J("x")})
    await store.commit(
        "r1",
        [
            Commit("s1", consumed=("start",), emitted=(ev("e1"), ev("e2")), writes={"a": J(1)}),
            Commit("s2", consumed=("e1",), writes={"gone": None, "b": B(b"b")}),
            Commit("s3", consumed=("e2",), emitted=(ev("e3"),), writes={"a": J(3), "gone": J(9)}),
        ],
        owner="me",
    )
    expected = [
        ({"a": J(0), "gone": J("x")}, ["start"]),
        ({"a": J(1), "gone": J("x")}, ["e1", "e2"]),
        ({"a": J(1), "b": B(b"b")}, ["e2"]),
        ({"a": J(3), "b": B(b"b"), "gone": J(9)}, ["e3"]),
    ]
    for seq, (state, pending) in enumerate(expected):
        loaded = await store.load("r1", seq)
        assert loaded.seq == seq
        assert loaded.context_state == state
        assert [p.event_id for p in loaded.pending] == pending
    assert (await store.load("r1")).seq == 3


@pytest.mark.parametrize("seq", [-1, 2])
async def test_load_of_a_missing_seq_fails(store: CheckpointStore, seq: int) -> None:
    await new_run(store)
    await store.commit("r1", [Commit("s")], owner="me")
    with pytest.raises(StoreError, match="r1"):
        await store.load("r1", seq)


async def test_pending_keeps_emission_order(store: CheckpointStore) -> None:
    await new_run(store, pending=[ev("z0"), ev("a0")])
    await store.commit(
        "r1",
        [Commit("s1", emitted=(ev("m1"), ev("b1"))), Commit("s2", emitted=(ev("c2"),))],
        owner="me",
    )
    loaded = await store.load("r1")
    assert [p.event_id for p in loaded.pending] == ["z0", "a0", "m1", "b1", "c2"]


async def test_event_fields_round_trip(store: CheckpointStore) -> None:
    data = {"s": "héllo", "n": [1, -2, 2**40, 0.5], "b": b"\x00\x01", "none": None, "t": True}
    event = ev("e1", "Typed", data, source_step="src", target_step="dst")
    await new_run(store, pending=[])
    await store.commit("r1", [Commit("s", emitted=(event,))], owner="me")
    assert (await store.load("r1")).pending == [event]


async def test_batch_can_consume_what_it_emitted_earlier(store: CheckpointStore) -> None:
    await new_run(store)
    batch = [
        Commit("s1", consumed=("start",), emitted=(ev("e1"),)),
        Commit("s2", consumed=("e1",), emitted=(ev("e2"),)),
    ]
    assert await store.commit("r1", batch, owner="me") == 2
    assert [p.event_id for p in (await store.load("r1")).pending] == ["e2"]
    assert [p.event_id for p in (await store.load("r1", 1)).pending] == ["e1"]


async def test_owner_conflict(store: CheckpointStore) -> None:
    await new_run(store, owner="a")
    record = await store.claim("r1", "b")
    assert record.owner == "b"
    assert record.run_id == "r1"
    with pytest.raises(StoreConflictError, match="r1"):
        await store.commit("r1", [Commit("s", writes={"k": J(1)})], owner="a")
    loaded = await store.load("r1")
    assert (loaded.seq, loaded.context_state) == (0, {})
    assert await store.commit("r1", [Commit("s", writes={"k": J(1)})], owner="b") == 1


@pytest.mark.parametrize(
    "bad",
    [
        Commit("bad", consumed=("no-such-event",)),
        Commit("bad", consumed=("start",)),
        Commit("bad", emitted=(ev("e1"),)),
        Commit("bad", emitted=(ev("x"), ev("x"))),
        Commit("bad", emitted=(ev("x", data={"obj": object()}),)),
        Commit("bad", writes={"k": "not a StateValue"}),  # type: ignore[dict-item]
        Commit("bad", collected={"T": [object()]}),
    ],
    ids=[
        "unknown-event",
        "consumed-twice",
        "duplicate-id",
        "duplicate-in-commit",
        "unencodable-data",
        "bad-value",
        "unencodable-collected",
    ],
)
async def test_failing_batch_is_rolled_back(store: CheckpointStore, bad: Commit) -> None:
    await new_run(store)
    await store.commit("r1", [Commit("s0", consumed=("start",), emitted=(ev("e1"),))], owner="me")
    before = await store.load("r1")
    good = Commit("ok", writes={"k": J(1), "big": B(BIG)}, emitted=(ev("e9"),), status="failed")
    with pytest.raises(StoreError):
        await store.commit("r1", [good, bad], owner="me")
    after = await store.load("r1")
    assert after == before
    assert len(await store.checkpoints("r1")) == 2
    assert len(await store.events("r1")) == 2
    assert await store.commit("r1", [good], owner="me") == 2


async def test_consuming_an_event_emitted_later_fails(store: CheckpointStore) -> None:
    await new_run(store, pending=[])
    with pytest.raises(StoreError, match="e1"):
        await store.commit(
            "r1", [Commit("s1", consumed=("e1",)), Commit("s2", emitted=(ev("e1"),))], owner="me"
        )


async def test_collected_is_replaced_or_kept(store: CheckpointStore) -> None:
    await new_run(store, collected={"A": [{"i": 0}]})
    await store.commit(
        "r1",
        [
            Commit("s1"),
            Commit("s2", collected={"A": [{"i": 0}], "B": [{"j": 1}]}),
            Commit("s3", collected={}),
        ],
        owner="me",
    )
    seen = [(await store.load("r1", seq)).collected for seq in range(4)]
    assert seen == [{"A": [{"i": 0}]}, {"A": [{"i": 0}]}, {"A": [{"i": 0}], "B": [{"j": 1}]}, {}]


async def test_status_result_error_update_the_record(store: CheckpointStore) -> None:
    await new_run(store)
    await store.commit("r1", [Commit("s1", status="waiting")], owner="me")
    assert (await store.get_run("r1")).status == "waiting"
    await store.commit(
        "r1",
        [Commit("s2", status="failed", error="boom"), Commit("s3", result=J({"ok": 1}))],
        owner="me",
    )
    record = await store.get_run("r1")
    assert (record.status, record.error, record.last_seq) == ("failed", "boom", 3)
    assert (record.owner, record.lease_until) == (None, None)  # a final status ends the lease
    lease = await store.acquire("r1", "me", failed=True)
    await store.commit(
        "r1", [Commit("<end>", status="completed", result=B(BIG))], owner="me", epoch=lease.epoch
    )
    record = await store.get_run("r1")
    assert (record.status, record.error) == ("completed", "boom")
    results = [(await store.load("r1", seq)).result for seq in range(5)]
    assert results == [None, None, None, J({"ok": 1}), B(BIG)]


async def test_updated_at_moves_with_commits(store: CheckpointStore) -> None:
    await new_run(store)
    first = await store.get_run("r1")
    await store.commit("r1", [Commit("s")], owner="me")
    second = await store.get_run("r1")
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


async def test_loaded_data_is_a_private_copy(store: CheckpointStore) -> None:
    data = {"list": [1, 2]}
    collected = {"A": [{"i": [0]}]}
    metadata = {"m": [1]}
    await new_run(store, pending=[ev("e", data=data)], collected=collected, metadata=metadata)
    data["list"].append(3)
    collected["A"].append({"i": [1]})
    metadata["m"].append(2)
    loaded = await store.load("r1")
    assert loaded.pending[0].data == {"list": [1, 2]}
    loaded.pending[0].data["list"].append(4)
    loaded.collected["A"].clear()
    loaded.record.metadata["m"].append(5)
    again = await store.load("r1")
    assert again.pending[0].data == {"list": [1, 2]}
    assert again.collected == {"A": [{"i": [0]}]}
    assert again.record.metadata == {"m": [1]}


async def test_values_round_trip_exactly(store: CheckpointStore) -> None:
    values = {
        "json": J({"nested": {"list": [1, "two", 3.0, None, False]}, "big": 2**63}),
        "json-big": J(["x" * 100] * 100),
        "empty-bytes": B(b""),
        "bytes": B(bytes(range(256))),
        "big-bytes": B(BIG),
        "native": N(b"\x80\x05K\x01."),
        "big-native": N(BIG[::-1]),
    }
    await new_run(store, pending=[])
    await store.commit("r1", [Commit("s", writes=values)], owner="me")
    loaded = (await store.load("r1")).context_state
    assert loaded == values
    assert {k: v.kind for k, v in loaded.items()} == {k: v.kind for k, v in values.items()}


async def test_fork_from_any_seq(backend: Backend, store: CheckpointStore) -> None:
    await new_run(store, state={"big": B(BIG)})
    await store.commit(
        "r1",
        [
            Commit("s1", consumed=("start",), emitted=(ev("e1"),), writes={"k": J(1)}),
            Commit("s2", consumed=("e1",), writes={"k": J(2)}, collected={"A": [{"i": 1}]}),
        ],
        owner="me",
    )
    old = await store.load("r1", 1)
    await store.create_run(
        "fork",
        old.record.workflow_name,
        owner="other",
        context_state=old.context_state,
        pending=old.pending,
        collected=old.collected,
        metadata={"forked_from": ["r1", 1]},
    )
    forked = await store.load("fork")
    assert (forked.seq, forked.context_state) == (0, {"big": B(BIG), "k": J(1)})
    assert forked.pending == old.pending
    assert forked.collected == {}
    await store.commit("fork", [Commit("s2", consumed=("e1",), writes={"k": J(7)})], owner="other")
    assert (await store.load("r1")).context_state["k"] == J(2)
    assert await backend.blob_count(store) == 1
    await store.delete_run("r1")
    assert (await store.load("fork")).context_state == {"big": B(BIG), "k": J(7)}
    assert await backend.blob_count(store) == 1


async def test_large_values_are_stored_once(backend: Backend, store: CheckpointStore) -> None:
    await new_run(store, state={"a": B(BIG)})
    await store.commit(
        "r1",
        [Commit("s", writes={"b": B(bytes(BIG))}), Commit("s", result=B(BIG))],
        owner="me",
    )
    await store.commit("r1", [Commit("s", writes={"c": B(BIG), "small": B(b"x")})], owner="me")
    assert await backend.blob_count(store) == 1
    await store.commit("r1", [Commit("s", writes={"d": N(BIG)})], owner="me")
    assert await backend.blob_count(store) in (1, 2)  # a backend may key blobs by kind


async def test_delete_run_removes_unshared_blobs(backend: Backend, store: CheckpointStore) -> None:
    shared, own = os.urandom(8192), os.urandom(8192)
    await new_run(store, "r1", state={"shared": B(shared), "own": B(own)})
    await new_run(store, "r2", state={"shared": B(shared)})
    await store.commit("r1", [Commit("s", writes={"own": None}, result=B(own))], owner="me")
    assert await backend.blob_count(store) == 2
    await store.delete_run("r1")
    assert await backend.blob_count(store) == 1
    with pytest.raises(StoreError, match="unknown run id 'r1'"):
        await store.get_run("r1")
    assert [r.run_id for r in await store.list_runs()] == ["r2"]
    assert (await store.load("r2")).context_state == {"shared": B(shared)}
    await store.delete_run("r2")
    assert await backend.blob_count(store) == 0
    await new_run(store, "r1")
    assert (await store.get_run("r1")).last_seq == 0


async def test_list_runs_filters_and_order(store: CheckpointStore) -> None:
    for run_id, name in [("a", "wf1"), ("b", "wf2"), ("c", "wf1"), ("d", "wf1")]:
        await new_run(store, run_id, workflow_name=name)
    await store.commit("a", [Commit("s", status="completed")], owner="me")
    await store.commit("d", [Commit("s", status="failed", error="x")], owner="me")
    ids = [r.run_id for r in await store.list_runs()]
    assert ids == ["d", "a", "c", "b"]
    assert [r.run_id for r in await store.list_runs(workflow_name="wf1")] == ["d", "a", "c"]
    assert [r.run_id for r in await store.list_runs(status="running")] == ["c", "b"]
    assert [r.run_id for r in await store.list_runs(workflow_name="wf1", status="running")] == ["c"]
    assert [r.run_id for r in await store.list_runs(limit=2)] == ["d", "a"]
    assert await store.list_runs(workflow_name="none") == []


async def test_checkpoints_describe_each_commit(store: CheckpointStore) -> None:
    await new_run(store, state={"a": J(1)}, pending=[ev("start")])
    await store.commit(
        "r1",
        [
            Commit("s1", consumed=("start",), emitted=(ev("e1"), ev("e2")), writes={"b": J(2)}),
            Commit("s2", consumed=("e1", "e2"), writes={"a": None, "c": B(BIG)}),
        ],
        owner="me",
    )
    infos = await store.checkpoints("r1")
    assert [(i.seq, i.step) for i in infos] == [(0, "<create>"), (1, "s1"), (2, "s2")]
    assert [i.writes for i in infos] == [("a",), ("b",), ("a", "c")]
    assert [i.emitted for i in infos] == [("start",), ("e1", "e2"), ()]
    assert [i.consumed for i in infos] == [0, 1, 2]
    assert infos[0].created_at <= infos[1].created_at <= infos[2].created_at


async def test_events_history(store: CheckpointStore) -> None:
    await new_run(store)
    await store.commit(
        "r1",
        [
            Commit("s1", consumed=("start",), emitted=(ev("e1"), ev("e2", source_step="s1"))),
            Commit("s2", consumed=("e2",)),
        ],
        owner="me",
    )
    history = await store.events("r1")
    assert [(s, e.event_id, c) for s, e, c in history] == [
        (0, "start", 1),
        (1, "e1", None),
        (1, "e2", 2),
    ]
    assert history[2][1] == ev("e2", source_step="s1")


async def test_data_survives_reopening(backend: Backend, store: CheckpointStore) -> None:
    await new_run(store, state={"big": B(BIG)})
    await store.commit("r1", [Commit("s", writes={"k": J("v")}, status="paused")], owner="me")
    again = await backend.open()
    loaded = await again.load("r1")
    assert loaded.context_state == {"big": B(BIG), "k": J("v")}
    assert loaded.record.status == "paused"


async def test_closed_store_refuses_calls(backend: Backend) -> None:
    store = await backend.open()
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.list_runs()


async def test_one_store_object_serves_any_event_loop(store: CheckpointStore) -> None:
    """Successive ``asyncio.run`` calls (as the CLI makes) and loops in other threads."""
    await new_run(store)

    def in_a_new_loop(step: str) -> int:
        return asyncio.run(store.commit("r1", [Commit(step, writes={step: J(1)})], owner="me"))

    for n in (1, 2):  # each loop ends before the next starts
        assert await asyncio.to_thread(in_a_new_loop, f"s{n}") == n
    both = await asyncio.gather(  # two loops at once, in two threads
        asyncio.to_thread(asyncio.run, new_run(store, "r2")),
        asyncio.to_thread(asyncio.run, new_run(store, "r3")),
    )
    assert both == [None, None]
    assert await asyncio.to_thread(asyncio.run, store.delete_run("r3")) is None
    assert (await store.load("r1")).context_state == {"s1": J(1), "s2": J(1)}
    assert sorted(r.run_id for r in await store.list_runs()) == ["r1", "r2"]


async def test_the_last_status_and_error_of_a_batch_win(store: CheckpointStore) -> None:
    await new_run(store)
    batch = [
        Commit("s1", status="waiting", error="first"),
        Commit("s2", status="paused", error="second"),
        Commit("s3"),
    ]
    assert await store.commit("r1", batch, owner="me") == 3
    record = await store.get_run("r1")
    assert (record.status, record.error) == ("paused", "second")
    await store.commit(
        "r1", [Commit("s4", status="failed"), Commit("s5", status="running")], owner="me"
    )
    record = await store.get_run("r1")
    assert (record.status, record.error) == ("running", "second")


async def test_an_unknown_status_is_refused_before_anything_is_written(
    store: CheckpointStore,
) -> None:
    await new_run(store)
    bad = Commit("s", status="finished")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unknown run status 'finished'"):
        await store.commit("r1", [Commit("ok", writes={"k": J(1)}), bad], owner="me")
    assert (await store.get_run("r1")).last_seq == 0
    with pytest.raises(StoreError, match="unknown run status 'done'"):
        await new_run(store, "r2", status="done")
    with pytest.raises(StoreError, match="unknown run status 'done'"):
        await store.list_runs(status="done")  # type: ignore[arg-type]


QUOTED = 'it\'s "x"'  # an id whose quoting differs between SQL's %L and Python's repr

# Each bad batch (after commit 1 consumed "start" and emitted "e1") and the exact error.
EVENT_MISUSES = [
    (
        [Commit("bad", consumed=("e2",), emitted=(ev("e2"),))],
        "run 'r1': commit 2 consumes event 'e2', which is not pending",
    ),
    (
        [Commit("ok", emitted=(ev("e2"),)), Commit("bad", consumed=("e3",), emitted=(ev("e3"),))],
        "run 'r1': commit 3 consumes event 'e3', which is not pending",
    ),
    (
        [Commit("bad", consumed=("start",))],
        "run 'r1': commit 2 consumes event 'start', which is not pending",
    ),
    (
        [Commit("ok", consumed=("e1",)), Commit("bad", consumed=("e1",))],
        "run 'r1': commit 3 consumes event 'e1', which is not pending",
    ),
    (
        [Commit("bad", consumed=(QUOTED,))],
        f"run 'r1': commit 2 consumes event {QUOTED!r}, which is not pending",
    ),
    (
        [Commit("ok"), Commit("bad", emitted=(ev("e1"),))],
        "run 'r1': commit 3 emits event 'e1', but the run already has an event with that id",
    ),
    (
        [Commit("bad", emitted=(ev(QUOTED), ev(QUOTED)))],
        f"run 'r1': commit 2 emits event {QUOTED!r}, but the run already has an event with that id",
    ),
    (
        [Commit("bad", consumed=("nope",), emitted=(ev("e1"),))],
        "run 'r1': commit 2 consumes event 'nope', which is not pending",
    ),
]


@pytest.mark.parametrize(
    ("batch", "message"),
    EVENT_MISUSES,
    ids=[
        "consumes-its-own-event",
        "consumes-its-own-event-later-in-batch",
        "consumed-already",
        "consumed-twice-in-batch",
        "unknown-quoted-id",
        "emits-existing-id",
        "emits-quoted-id-twice",
        "consumes-before-emitting-an-existing-id",
    ],
)
async def test_event_misuse_is_refused_with_one_wording(
    store: CheckpointStore, batch: list[Commit], message: str
) -> None:
    await new_run(store)
    await store.commit("r1", [Commit("s1", consumed=("start",), emitted=(ev("e1"),))], owner="me")
    before = await store.load("r1")
    with pytest.raises(StoreError) as info:
        await store.commit("r1", batch, owner="me")
    assert str(info.value) == message
    assert type(info.value) is StoreError
    assert await store.load("r1") == before


async def test_commit_zero_with_a_repeated_event_id_is_refused(store: CheckpointStore) -> None:
    with pytest.raises(StoreError) as info:
        await new_run(store, pending=[ev("s"), ev("s")])
    assert str(info.value) == (
        "run 'r1': commit 0 emits event 's', but the run already has an event with that id"
    )
    with pytest.raises(StoreError, match="unknown run id 'r1'"):
        await store.get_run("r1")
    await new_run(store)
    with pytest.raises(StoreConflictError) as conflict:
        await new_run(store, pending=[ev("s"), ev("s")])
    assert str(conflict.value) == "run 'r1' already exists"


async def test_store_errors_have_one_wording(store: CheckpointStore) -> None:
    await new_run(store, owner="alice")
    await store.claim("r1", "bob")
    taken = (
        "run 'r1' was taken over by another process (owner 'bob') while this one ('alice') was"
        " running it: this commit was refused (nothing written) and this process stops running"
        " the run; the other owner continues it (see `blazen runs show r1`)"
    )
    cases = [
        (store.commit("r1", [Commit("s")], owner="alice"), taken),
        (store.commit("r1", [], owner="alice"), taken),
        (
            store.commit("r1", [Commit("s")], owner="bob", epoch=1),
            "run 'r1' was claimed again (epoch 2) since this process claimed it (epoch 1): this"
            " commit was refused (nothing written) and this process stops running the run; the"
            " newer claim continues it (see `blazen runs show r1`)",
        ),
        (new_run(store), "run 'r1' already exists"),
        (store.load("r1", 5), "run 'r1' has no commit 5 (last is 0)"),
        (store.commit(QUOTED, [Commit("s")], owner="bob"), f"unknown run id {QUOTED!r}"),
        (store.get_run(QUOTED), f"unknown run id {QUOTED!r}"),
    ]
    for call, message in cases:
        with pytest.raises(StoreError) as info:
            await call
        assert str(info.value) == message


@pytest.mark.parametrize(
    "batch",
    [
        [Commit("bad", consumed=("x",), emitted=(ev("x"),))],
        [Commit("bad", consumed=("x",)), Commit("later", emitted=(ev("x"),))],
        [Commit("ok", consumed=("e1",)), Commit("bad", consumed=("e1",))],
        [Commit("bad", emitted=(ev("x"), ev("x")))],
    ],
    ids=["same-commit", "later-commit", "twice", "emitted-twice"],
)
async def test_the_backends_atomic_write_refuses_a_batch_misusing_its_own_events(
    store: CheckpointStore, batch: list[Commit]
) -> None:
    """``StoreBase`` refuses such a batch before any I/O; the backend's write must refuse it
    too (it is the only check against the store's state), applying nothing."""
    assert isinstance(store, StoreBase)
    await new_run(store)
    await store.commit("r1", [Commit("s1", consumed=("start",), emitted=(ev("e1"),))], owner="me")
    encoded = encode_batch(batch)
    assert encoded.intra_problem
    with pytest.raises(Refused) as info:
        await store._append("r1", "me", None, encoded)
    assert info.value.refusal is Refusal.EVENTS
    assert (await store.get_run("r1")).last_seq == 1
    assert [p.event_id for p in (await store.load("r1")).pending] == ["e1"]


async def test_large_blobs_move_in_pieces_and_are_stored_once(
    backend: Backend, store: CheckpointStore
) -> None:
    big = os.urandom(2 * CHUNK + 12_345)  # streamed, and not a whole number of pieces
    await asyncio.gather(  # two writers of one new blob at once
        new_run(store, "r1", state={"big": B(big)}),
        new_run(store, "r2", state={"big": B(big), "n": N(big)}),
    )
    await store.commit("r1", [Commit("s", result=B(big))], owner="me")
    assert (await store.load("r1")).context_state == {"big": B(big)}
    assert (await store.load("r1")).result == B(big)
    assert (await store.load("r2")).context_state == {"big": B(big), "n": N(big)}
    assert await backend.blob_count(store) in (1, 2)  # a backend may key blobs by kind
    await store.delete_run("r1")
    assert (await store.load("r2")).context_state["big"] == B(big)
    await store.delete_run("r2")
    assert await backend.blob_count(store) == 0
