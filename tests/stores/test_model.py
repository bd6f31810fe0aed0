"""Random commit histories checked against a plain-Python model, on every backend."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from blazen.errors import StoreError
from blazen.stores.base import CheckpointStore, Commit, PendingEvent
from blazen.values import StateValue

from .helpers import B, J, N, ev, new_run

LARGE = [bytes([i]) * 5000 for i in range(3)]
KEYS = ["a", "b", "c", "d", "e", "f"]


@dataclass
class Snapshot:
    """The expected state after one commit."""

    state: dict[str, StateValue]
    pending: list[PendingEvent]
    collected: dict[str, list[Any]]
    result: StateValue | None


@dataclass
class Model:
    """Applies commits the obvious way, keeping a full copy of the state per seq."""

    history: list[Snapshot] = field(default_factory=list)
    next_id: int = 0

    def apply(self, commit: Commit) -> None:
        last = self.history[-1]
        state = dict(last.state)
        for key, value in commit.writes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        pending = [p for p in last.pending if p.event_id not in commit.consumed]
        pending += commit.emitted
        collected = last.collected if commit.collected is None else dict(commit.collected)
        result = last.result if commit.result is None else commit.result
        self.history.append(Snapshot(state, pending, collected, result))

    def new_event(self) -> PendingEvent:
        self.next_id += 1
        return ev(f"e{self.next_id}", "XYZ"[self.next_id % 3], {"n": self.next_id})


def _value(rng: random.Random) -> StateValue | None:
    """A random write: small or large, any kind, or a delete."""
    choice = rng.randrange(6)
    if choice == 0:
        return None
    if choice == 1:
        return J({"n": rng.randrange(100), "l": [rng.random()]})
    if choice == 2:
        return B(rng.randbytes(rng.randrange(50)))
    if choice == 3:
        return B(rng.choice(LARGE))
    if choice == 4:
        return N(rng.choice(LARGE))
    return J("x" * rng.randrange(5000))


def _commit(rng: random.Random, model: Model, pending: list[str]) -> Commit:
    """A random commit consuming some of ``pending`` (updated in place)."""
    consumed = tuple(rng.sample(pending, k=min(len(pending), rng.randrange(3))))
    emitted = tuple(model.new_event() for _ in range(rng.randrange(4)))
    for event_id in consumed:
        pending.remove(event_id)
    pending.extend(e.event_id for e in emitted)
    writes = {rng.choice(KEYS): _value(rng) for _ in range(rng.randrange(4))}
    collected = {"A": [{"i": rng.randrange(9)}]} if rng.random() < 0.2 else None
    result = J(rng.randrange(9)) if rng.random() < 0.1 else None
    return Commit("step", consumed, emitted, writes, collected, result=result)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_history_matches_model(store: CheckpointStore, seed: int) -> None:
    rng = random.Random(seed)
    model = Model()
    start = [ev("start")]
    await new_run(store, pending=start)
    model.history.append(Snapshot({}, start, {}, None))
    for _ in range(30):
        pending = [p.event_id for p in model.history[-1].pending]
        saved_id = model.next_id
        batch = [_commit(rng, model, pending) for _ in range(rng.randrange(1, 5))]
        if rng.random() < 0.15:
            batch.insert(rng.randrange(len(batch) + 1), Commit("bad", consumed=("missing",)))
            with pytest.raises(StoreError):
                await store.commit("r1", batch, owner="me")
            model.next_id = saved_id
            continue
        for commit in batch:
            model.apply(commit)
        assert await store.commit("r1", batch, owner="me") == len(model.history) - 1
    for seq, expected in enumerate(model.history):
        loaded = await store.load("r1", seq)
        assert loaded.context_state == expected.state, seq
        assert loaded.pending == expected.pending, seq
        assert loaded.collected == expected.collected, seq
        assert loaded.result == expected.result, seq
