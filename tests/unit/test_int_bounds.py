"""The 64-bit integer range of JSON values, identical on every path that checks it.

``ctx.set`` checks a scalar itself (``context.py``) and containers through ``values.py``;
``StateValue.Json`` and ``StateValue.json`` check through ``values.py`` too. The bounds are
the Rust core's: i64 minimum to u64 maximum. A drift in one copy shows up here as one
path disagreeing with the others on a boundary value.
"""

from __future__ import annotations

from typing import Any

import pytest

from blazen import Context, ContextError, StateValue, WorkflowSnapshot

LOW, HIGH = -(2**63), 2**64 - 1
IN_RANGE = [LOW, HIGH, 0]
OUT_OF_RANGE = [LOW - 1, HIGH + 1]


@pytest.mark.parametrize("value", IN_RANGE)
@pytest.mark.parametrize("wrap", ["scalar", "list", "dict"])
def test_an_int_in_range_is_json_on_every_path(ctx: Context, value: int, wrap: str) -> None:
    stored = _wrap(value, wrap)
    ctx.set("k", stored)
    sv = ctx.get_value("k")
    assert isinstance(sv, StateValue.Json)
    assert sv.value == stored
    assert ctx.get("k") == stored
    assert StateValue.Json(stored).value == stored
    assert StateValue.json(stored) == StateValue.Json(stored)
    assert StateValue.from_dict({"Json": stored}) == sv


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("wrap", ["scalar", "list", "dict"])
def test_an_int_out_of_range_is_native_on_every_path(ctx: Context, value: int, wrap: str) -> None:
    stored = _wrap(value, wrap)
    ctx.set("k", stored)
    assert isinstance(ctx.get_value("k"), StateValue.Native)  # pickled: not a JSON number
    got = ctx.get("k")
    assert got == stored
    assert type(got) is type(stored)
    with pytest.raises(ContextError, match=f"integer {value} does not fit in 64 bits"):
        StateValue.Json(stored)
    with pytest.raises(ContextError, match="does not fit in 64 bits"):
        StateValue.from_dict({"Json": stored})


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_state_value_json_turns_an_out_of_range_int_into_a_float(value: int) -> None:
    # As the Rust-core package does: a Python int past 64 bits becomes an f64.
    converted = StateValue.json([value]).as_json()
    assert converted == [float(value)]
    assert type(converted[0]) is float


def test_a_snapshot_keeps_the_boundaries_exact() -> None:
    state = {"lo": StateValue.Json(LOW), "hi": StateValue.Json(HIGH)}
    snap = WorkflowSnapshot.new(
        workflow_name="bounds",
        run_id="r",
        context_state=state,
        collected_events={},
        pending_events=[],
        metadata={},
    )
    for back in (
        WorkflowSnapshot.from_json(snap.to_json()),
        WorkflowSnapshot.from_bytes(snap.to_bytes()),
    ):
        assert back.context_state == state
        assert type(back.context_state["hi"].value) is int


def _wrap(value: int, how: str) -> Any:
    return {"scalar": value, "list": [value], "dict": {"v": value}}[how]
