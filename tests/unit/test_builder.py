"""``WorkflowBuilder``: the fluent form of ``Workflow(...)``."""

from __future__ import annotations

from typing import Any

import pytest

from blazen import (
    Context,
    RetryConfig,
    SessionPausePolicy,
    StartEvent,
    StopEvent,
    Workflow,
    WorkflowBuilder,
    WorkflowValidationError,
    step,
)
from blazen.step import get_step_spec


@step
async def only(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result="done")


@step(timeout=9.0)
async def own_timeout(ctx: Context, ev: StartEvent) -> StopEvent:
    return StopEvent(result="own")


def test_every_method_returns_the_builder() -> None:
    b = WorkflowBuilder("chain")
    calls = [
        lambda: b.step(only),
        lambda: b.timeout(5),
        lambda: b.no_timeout(),
        lambda: b.step_timeout(1.5),
        lambda: b.no_step_timeout(),
        lambda: b.session_pause_policy(SessionPausePolicy.WarnDrop),
        lambda: b.auto_publish_events(True),
        lambda: b.retry_config(RetryConfig()),
        lambda: b.no_retry(),
        lambda: b.clear_retry_config(),
        lambda: b.checkpoint_store(None),
        lambda: b.checkpoint_after_step(True),
    ]
    for call in calls:
        assert call() is b
    assert b.name == "chain"


def test_build_makes_a_new_workflow_with_the_options() -> None:
    b = (
        WorkflowBuilder("built")
        .step(only)
        .timeout(12)
        .session_pause_policy(SessionPausePolicy.HardError)
    )
    assert repr(b) == 'WorkflowBuilder(name="built", steps=1, timeout=Some(12.0))'
    wf = b.build()
    assert isinstance(wf, Workflow)
    assert wf is not b.build()
    assert (wf.name, wf.timeout, wf.session_pause_policy) == ("built", 12.0, "hard_error")
    assert list(wf.graph.steps) == ["only"]


def test_default_timeout_is_300_seconds_as_upstream() -> None:
    assert WorkflowBuilder("d").step(only).build().timeout == 300.0
    assert WorkflowBuilder("d").step(only).no_timeout().build().timeout is None
    assert repr(WorkflowBuilder("d").no_timeout()).endswith("timeout=None)")


def test_step_timeout_applies_to_steps_without_their_own() -> None:
    wf = WorkflowBuilder("st").step(only).step_timeout(0.5).build()
    assert wf.graph.steps["only"].timeout == 0.5
    assert get_step_spec(only).timeout is None  # type: ignore[union-attr]  # not changed
    wf = WorkflowBuilder("st").step_timeout(0.5).step(own_timeout).build()
    assert wf.graph.steps["own_timeout"].timeout == 9.0
    wf = WorkflowBuilder("st").step_timeout(0.5).step(only).no_step_timeout().build()
    assert wf.graph.steps["only"].timeout is None


async def test_a_built_workflow_runs() -> None:
    wf = WorkflowBuilder("runs").step(only).build()
    handler = await wf.run_with_handler()
    assert (await handler.result()).result == "done"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda b: b.step(lambda c, e: None), TypeError, "not a step"),
        (lambda b: b.timeout("1"), TypeError, "timeout"),
        (lambda b: b.timeout(float("inf")), WorkflowValidationError, "finite"),
        (lambda b: b.step_timeout(0), WorkflowValidationError, "> 0"),
        (lambda b: b.session_pause_policy("warn_drop"), TypeError, "SessionPausePolicy"),
        (lambda b: b.auto_publish_events(1), TypeError, "bool"),
        (lambda b: b.retry_config({}), TypeError, "RetryConfig"),
        (lambda b: b.checkpoint_after_step(None), TypeError, "bool"),
        (lambda b: b.build(), WorkflowValidationError, "at least one step"),
        (lambda b: b.step(only).timeout(-1).build(), WorkflowValidationError, "timeout"),
        (
            lambda b: (
                b.step(only).checkpoint_store("memory://").checkpoint_after_step(False).build()
            ),
            WorkflowValidationError,
            "checkpoint_after_step",
        ),
    ],
)
def test_bad_input_is_refused(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call(WorkflowBuilder("bad"))
    with pytest.raises(TypeError):
        WorkflowBuilder(3)  # type: ignore[arg-type]


def test_checkpoint_store_makes_the_workflow_durable() -> None:
    wf = WorkflowBuilder("durable").step(only).checkpoint_store("memory://").build()
    assert wf.store is not None
