"""Leases, fencing epochs, the queue and control requests: the contract on every backend."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from blazen._owners import HOST, new_owner
from blazen.errors import LeaseLostError, StoreConflictError, StoreError
from blazen.stores.base import CheckpointStore, Commit

from .conftest import Backend
from .helpers import J, new_run

WAITING = "__blazen__.waiting"


def _dead_owner() -> str:
    """The owner id of a process of this host that has exited (and was reaped)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return f"{HOST}:{int(child.stdout)}:dead"


async def _until(predicate: object, seconds: float = 10.0) -> None:
    """Poll an async predicate until it holds (bounded)."""
    deadline = time.monotonic() + seconds
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def _expired(store: CheckpointStore, run_id: str) -> bool:
    record = await store.get_run(run_id)
    return record.lease_until is None or record.lease_until <= time.time()


async def _waiting_run(store: CheckpointStore, run_id: str, owner: str | None = "w") -> None:
    """A run waiting for input request 'q' (as the runtime stores it)."""
    request = {"source_step": "ask", "event": {"request_id": "q", "prompt": "?", "metadata": {}}}
    await new_run(store, run_id, owner=owner or "tmp", status="waiting",
                  state={WAITING: J({"q": request})}, pending=[])  # fmt: skip
    if owner is None:
        record = await store.get_run(run_id)
        assert await store.release(run_id, "tmp", record.epoch)


async def test_create_run_claims_or_queues(store: CheckpointStore) -> None:
    before = time.time()
    await new_run(store, "owned", owner="me", lease=5.0)
    owned = await store.get_run("owned")
    assert (owned.owner, owned.epoch, owned.cancel_requested) == ("me", 1, False)
    assert owned.lease_until is not None
    assert before + 4 < owned.lease_until < time.time() + 6
    await new_run(store, "queued", owner="ignored", status="queued")
    queued = await store.get_run("queued")
    assert (queued.owner, queued.epoch, queued.lease_until, queued.status) == (
        None, 0, None, "queued")  # fmt: skip


async def test_acquire_takes_a_free_run_with_a_new_epoch(store: CheckpointStore) -> None:
    await new_run(store, "q", status="queued")
    lease = await store.acquire("q", "w1", lease=5.0)
    assert (lease.owner, lease.epoch, lease.record.status) == ("w1", 1, "running")
    with pytest.raises(StoreConflictError, match=r"run 'q' is owned by 'w1', which is running it"):
        await store.acquire("q", "w2")
    assert await store.release("q", "w1", 1)
    again = await store.acquire("q", "w2")
    assert again.epoch == 2
    with pytest.raises(StoreError, match="unknown run id 'nope'"):
        await store.acquire("nope", "w1")


async def test_acquire_takes_an_expired_lease(store: CheckpointStore) -> None:
    await new_run(store, "r", owner="old", lease=0.05)
    await _until(lambda: _expired(store, "r"))
    lease = await store.acquire("r", "new")
    assert lease.epoch == 2
    taken = r"taken over by another process \(owner 'new'\) while this one \('old'\)"
    with pytest.raises(LeaseLostError, match=taken):
        await store.commit("r", [Commit("late")], owner="old", epoch=1)
    assert [c.step for c in await store.checkpoints("r")] == ["<create>"]


async def test_a_dead_local_owner_counts_as_expired_at_once(store: CheckpointStore) -> None:
    dead = _dead_owner()
    await new_run(store, "r", owner=dead, lease=3600)
    other = f"{HOST.upper()}x:1:alive"  # another host: it may be alive
    await new_run(store, "far", owner=other, lease=3600)
    assert (await store.acquire("r", "me")).epoch == 2
    with pytest.raises(StoreConflictError, match="is owned by"):
        await store.acquire("far", "me")


async def test_acquire_refuses_finished_runs(store: CheckpointStore) -> None:
    for run_id, status in (("c", "completed"), ("x", "cancelled"), ("f", "failed")):
        await new_run(store, run_id, owner="me")
        await store.commit(run_id, [Commit("<end>", status=status)], owner="me")
        record = await store.get_run(run_id)
        assert (record.owner, record.lease_until) == (None, None)  # a final status ends the lease
    with pytest.raises(StoreConflictError, match="run 'c' is already completed; there is nothing"):
        await store.acquire("c", "w")
    with pytest.raises(StoreConflictError, match="run 'x' is already cancelled"):
        await store.acquire("x", "w")
    with pytest.raises(StoreConflictError, match="run 'f' is already failed"):
        await store.acquire("f", "w")
    assert (await store.acquire("f", "w", failed=True)).epoch == 2


async def test_every_commit_carries_its_epoch(store: CheckpointStore) -> None:
    await new_run(store, owner="a")
    await store.commit("r1", [Commit("s1")], owner="a", epoch=1)
    await store.claim("r1", "a")  # the same owner claims again: a new epoch
    stale = r"was claimed again \(epoch 2\) since this process claimed it \(epoch 1\)"
    with pytest.raises(LeaseLostError, match=stale):
        await store.commit("r1", [Commit("stale", writes={"k": J(1)})], owner="a", epoch=1)
    await store.commit("r1", [Commit("s2", attempt=3)], owner="a", epoch=2)
    await store.commit("r1", [Commit("s3", attempt=2, attempt_error="ValueError: x")], owner="a")
    history = await store.checkpoints("r1")
    assert [(c.step, c.epoch) for c in history] == [
        ("<create>", 1), ("s1", 1), ("s2", 2), ("s3", 2)]  # fmt: skip
    assert [(c.attempt, c.error) for c in history[2:]] == [(3, None), (2, "ValueError: x")]
    assert "k" not in (await store.load("r1")).context_state


async def test_acquire_next_takes_queued_runs_oldest_first_once(store: CheckpointStore) -> None:
    for i in range(6):
        await new_run(store, f"q{i}", status="queued")
    await new_run(store, "other", workflow_name="elsewhere", status="queued")
    await new_run(store, "busy", owner="live", lease=3600)
    began = time.monotonic()
    got = await asyncio.gather(*(store.acquire_next(f"w{i}", ["wf"], lease=5) for i in range(9)))
    took = time.monotonic() - began
    claimed = [n.lease.run_id for n in got if n.lease is not None]
    assert sorted(claimed) == [f"q{i}" for i in range(6)]
    idle = [n for n in got if n.lease is None]
    assert len(idle) == 3
    # Retry when the first of the new 5 s leases ends (not the busy run's hour), less the
    # time the claims took on a loaded machine.
    assert all(n.retry_in is not None and 4.5 - took < n.retry_in <= 5 for n in idle)
    first = await store.acquire_next("w", ["wf", "elsewhere"])
    assert first.lease is not None
    assert first.lease.run_id == "other"
    assert (await store.acquire_next("w", [])).lease is None


async def test_acquire_next_takes_over_expired_and_dead_leases(store: CheckpointStore) -> None:
    await new_run(store, "crashed", owner=_dead_owner(), lease=3600)
    await new_run(store, "short", workflow_name="wf2", owner="gone", lease=0.05)
    await new_run(store, "done", owner="me")
    await store.commit("done", [Commit("<end>", status="completed")], owner="me")
    first = await store.acquire_next("w", ["wf"])
    assert first.lease is not None
    assert first.lease.run_id == "crashed"
    await _until(lambda: _expired(store, "short"))
    second = await store.acquire_next("w", ["wf2"])
    assert second.lease is not None
    assert (second.lease.run_id, second.lease.epoch) == ("short", 2)
    third = await store.acquire_next("w", ["wf", "wf2"])
    assert third.lease is None


async def test_acquire_next_finishes_started_work_first(store: CheckpointStore) -> None:
    await new_run(store, "q", status="queued")  # older, but not started
    await new_run(store, "crashed", owner=_dead_owner(), lease=3600)
    first = await store.acquire_next("w", ["wf"])
    assert first.lease is not None
    assert first.lease.run_id == "crashed"
    second = await store.acquire_next("w", ["wf"])
    assert second.lease is not None
    assert second.lease.run_id == "q"


async def test_renew_extends_and_reports(store: CheckpointStore) -> None:
    await new_run(store, "a", owner="me", lease=1.0)
    await new_run(store, "b", owner="me", lease=1.0)
    renewal = await store.renew({"a": ("me", 1), "b": ("me", 1)}, lease=100)
    assert renewal.lost == renewal.cancel == renewal.inbox == frozenset()
    lease_until = (await store.get_run("a")).lease_until
    assert lease_until is not None
    assert lease_until > time.time() + 90
    await store.claim("b", "thief")
    await store.cancel("a")
    renewal = await store.renew({"a": ("me", 1), "b": ("me", 1), "nope": ("me", 1)})
    assert (renewal.lost, renewal.cancel) == ({"b", "nope"}, {"a"})
    assert (await store.get_run("a")).status == "running"  # the owner stops it, not cancel()


async def test_release_ends_the_lease_and_may_requeue(store: CheckpointStore) -> None:
    await new_run(store, "r", owner="me")
    assert not await store.release("r", "me", 7)
    assert await store.release("r", "me", 1, requeue=True)
    record = await store.get_run("r")
    assert (record.owner, record.lease_until, record.status) == (None, None, "queued")
    assert not await store.release("r", "me", 1)
    with pytest.raises(LeaseLostError, match="was released while this process"):
        await store.commit("r", [Commit("late")], owner="me", epoch=1)


async def test_respond_makes_a_waiting_run_claimable(store: CheckpointStore) -> None:
    await _waiting_run(store, "w", owner=None)
    assert (await store.get_run("w")).status == "waiting"
    assert (await store.acquire_next("x", ["wf"])).lease is None  # nothing to do yet
    with pytest.raises(StoreError, match="is not waiting for input request 'other'"):
        await store.respond("w", "other", 1)
    await store.respond("w", "q", {"yes": True})
    record = await store.get_run("w")
    assert (record.status, record.owner) == ("queued", None)
    (posted,) = await store.inbox("w")
    assert (posted.event_type, posted.target_step) == ("blazen::InputResponseEvent", None)
    assert posted.data == {"request_id": "q", "response": {"yes": True}}
    answered = r"is not waiting for input request 'q' \(waiting for \[\]"
    with pytest.raises(StoreError, match=answered):
        await store.respond("w", "q", "twice")
    lease = (await store.acquire_next("x", ["wf"])).lease
    assert lease is not None
    assert lease.run_id == "w"
    await store.commit("w", [Commit("<resume>", consumed=(posted.event_id,))], owner="x")
    assert await store.inbox("w") == []


async def test_respond_to_an_owned_run_goes_to_its_owner(store: CheckpointStore) -> None:
    await _waiting_run(store, "w", owner="me")
    await store.respond("w", "q", 5)
    assert (await store.get_run("w")).status == "waiting"
    assert (await store.renew({"w": ("me", 1)})).inbox == {"w"}
    assert not await store.release("w", "me", 2)
    assert await store.release("w", "me", 1)  # an unconsumed answer: the run is queued
    assert (await store.get_run("w")).status == "queued"


async def test_respond_refuses_finished_runs(store: CheckpointStore) -> None:
    await _waiting_run(store, "w")
    await store.commit("w", [Commit("<end>", status="completed")], owner="w")
    with pytest.raises(StoreConflictError, match="run 'w' is already completed; it cannot take"):
        await store.respond("w", "q", 1)


async def test_cancel_an_unowned_run_at_once(store: CheckpointStore) -> None:
    await new_run(store, "q", status="queued")
    await store.cancel("q")
    record = await store.get_run("q")
    assert (record.status, record.owner) == ("cancelled", None)
    assert [c.step for c in await store.checkpoints("q")][-1] == "<cancelled>"
    with pytest.raises(StoreConflictError, match="run 'q' is already cancelled; it cannot be"):
        await store.cancel("q")
    with pytest.raises(StoreError, match="unknown run id 'nope'"):
        await store.cancel("nope")


async def test_requeue(store: CheckpointStore) -> None:
    await new_run(store, "p", owner="me")
    await store.commit("p", [Commit("<paused>", status="paused")], owner="me")
    assert await store.release("p", "me", 1)
    await store.requeue("p")
    assert (await store.get_run("p")).status == "queued"
    await new_run(store, "f", owner="me")
    await store.commit("f", [Commit("<end>", status="failed", error="boom")], owner="me")
    await store.requeue("f")
    assert (await store.get_run("f")).status == "queued"
    await _waiting_run(store, "w", owner=None)
    with pytest.raises(StoreConflictError, match="run 'w' is waiting for input: answer it"):
        await store.requeue("w")
    await new_run(store, "live", owner="me", lease=3600)
    with pytest.raises(StoreConflictError, match="run 'live' is owned by 'me'"):
        await store.requeue("live")
    await store.commit("live", [Commit("<end>", status="completed")], owner="me")
    with pytest.raises(StoreConflictError, match="is already completed; it cannot be queued"):
        await store.requeue("live")


async def test_bad_leases_are_refused(store: CheckpointStore) -> None:
    await new_run(store)
    for bad in (0, -1.0, float("inf"), True, "5"):
        with pytest.raises(StoreError, match="a lease must be a number of seconds > 0"):
            await store.acquire("r1", "w", lease=bad)  # type: ignore[arg-type]


async def test_subscribers_wake_on_new_work(backend: Backend, store: CheckpointStore) -> None:
    subscription = store.subscribe()
    try:
        if backend.name == "sqlite":  # no notifications: a wait is a bounded sleep
            assert not await subscription.wait(0.01)
            return
        await subscription.wait(0)  # listening from now on
        waiter = asyncio.ensure_future(subscription.wait(30))
        await new_run(store, "q", status="queued")
        assert await asyncio.wait_for(waiter, 10)
    finally:
        await subscription.close()


async def test_owner_ids_are_unique() -> None:
    owners = {new_owner() for _ in range(100)}
    assert len(owners) == 100
    assert all(o.startswith(f"{HOST}:") for o in owners)
