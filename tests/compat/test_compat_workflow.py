"""Workflow, WorkflowResult, WorkflowBuilder, TokenUsage and RetryConfig."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import blazen
from blazen import (
    Context,
    Event,
    RetryConfig,
    SessionPausePolicy,
    SessionRefRegistry,
    StartEvent,
    StopEvent,
    TokenUsage,
    Workflow,
    WorkflowBuilder,
    WorkflowHandler,
    step,
)

from ._util import VALIDATION


@step
async def echo(ctx: Context, ev: StartEvent) -> Any:
    return StopEvent(result=ev.to_dict())


@step
def echo_sync(ctx: Context, ev: StartEvent) -> Any:
    return StopEvent(result={"sync": ev.to_dict()})


async def test_run_returns_a_workflow_result() -> None:
    result = await Workflow("run", [echo]).run(message="hi")
    assert isinstance(result, blazen.WorkflowResult)
    assert result.result == {"message": "hi"}
    assert result.event_type == "blazen::StopEvent"
    assert result.event.event_type == "blazen::StopEvent"
    assert result.event.to_dict() == {"result": {"message": "hi"}}
    assert isinstance(result.session_refs, SessionRefRegistry)
    assert result.usage_total.total_tokens == 0
    assert result.cost_total_usd == 0.0
    assert isinstance(repr(result), str)


async def test_a_plain_def_step_runs() -> None:
    assert (await Workflow("sync", [echo_sync]).run(n=1)).result == {"sync": {"n": 1}}


async def test_run_with_handler_gives_the_same_result() -> None:
    handler = await Workflow("handler", [echo]).run_with_handler(n=2)
    assert isinstance(handler, WorkflowHandler)
    assert isinstance(repr(handler), str)
    result = await handler.result()
    assert isinstance(result, blazen.WorkflowResult)
    assert result.result == {"n": 2}


async def test_fan_out_and_send_event() -> None:
    @step
    async def fan(ctx: Context, ev: StartEvent) -> Any:
        ctx.send_event(Event("Side", v="c"))
        return [Event("Branch", v="a"), Event("Branch", v="b")]

    @step(accepts=["Branch", "Side"])
    async def gather(ctx: Context, ev: Event) -> Any:
        got = [*ctx.get("got", []), ev.v]
        ctx.set("got", got)
        return StopEvent(result=sorted(got)) if len(got) == 3 else None

    assert (await Workflow("fan", [fan, gather]).run()).result == ["a", "b", "c"]


def test_workflow_result_constructor() -> None:
    result = blazen.WorkflowResult(StopEvent(result=5))
    assert (result.result, result.event_type) == (5, "blazen::StopEvent")
    assert result.session_refs.len() == 0
    assert result.usage_total.prompt_tokens == 0
    assert result.cost_total_usd == 0.0
    refs, usage = SessionRefRegistry(), TokenUsage(prompt_tokens=3, total_tokens=3)
    result = blazen.WorkflowResult(
        StopEvent(result=1), session_refs=refs, usage_total=usage, cost_total_usd=0.5
    )
    assert (result.usage_total.prompt_tokens, result.cost_total_usd) == (3, 0.5)


def test_workflow_options_are_accepted() -> None:
    Workflow(
        "options",
        [echo],
        timeout=30.0,
        session_pause_policy=SessionPausePolicy.WarnDrop,
        auto_publish_events=True,
        retry_config=RetryConfig(max_retries=1),
    )
    Workflow(
        "defaults",
        [echo],
        timeout=None,
        session_pause_policy=None,
        auto_publish_events=None,
        retry_config=None,
    )
    assert isinstance(repr(Workflow("r", [echo])), str)


@pytest.mark.parametrize(
    "kwargs",
    [{"auto_publish_events": "yes"}, {"retry_config": "x"}, {"timeout": "soon"}],
)
def test_workflow_option_types_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises((TypeError, *VALIDATION)):
        Workflow("bad", [echo], **kwargs)


def test_steps_must_be_steps() -> None:
    with pytest.raises(TypeError):
        Workflow("bad", [lambda ctx, ev: None])


async def test_retry_config_does_not_rerun_a_failing_step() -> None:
    calls: list[int] = []

    @step
    async def flaky(ctx: Context, ev: StartEvent) -> Any:
        calls.append(1)
        raise ValueError("flaky failure")

    wf = Workflow("flaky", [flaky], retry_config=RetryConfig(max_retries=5, initial_delay_ms=1))
    with pytest.raises(Exception, match="flaky failure"):
        await wf.run()
    assert calls == [1]


async def test_a_failing_step_is_a_runtime_error() -> None:
    @step
    async def bad(ctx: Context, ev: StartEvent) -> Any:
        raise ValueError("intentional failure")

    with pytest.raises(RuntimeError, match="intentional failure"):
        await Workflow("bad", [bad]).run()


async def test_timeout_is_a_timeout_error() -> None:
    @step
    async def forever(ctx: Context, ev: StartEvent) -> Any:
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError, match=r"(?i)timed out|timeout"):
        await Workflow("slow", [forever], timeout=0.05).run()


async def test_builder_builds_a_workflow() -> None:
    builder = Workflow.builder("built")
    assert isinstance(builder, WorkflowBuilder)
    assert builder.name == "built"
    assert repr(builder) == 'WorkflowBuilder(name="built", steps=0, timeout=Some(300.0))'
    for call in (
        lambda b: b.step(echo),
        lambda b: b.timeout(60.0),
        lambda b: b.no_timeout(),
        lambda b: b.step_timeout(10.0),
        lambda b: b.no_step_timeout(),
        lambda b: b.auto_publish_events(False),
        lambda b: b.session_pause_policy(SessionPausePolicy.PickleOrError),
        lambda b: b.retry_config(RetryConfig()),
        lambda b: b.no_retry(),
        lambda b: b.clear_retry_config(),
        lambda b: b.checkpoint_after_step(True),
    ):
        assert call(builder) is builder
    assert repr(builder) == 'WorkflowBuilder(name="built", steps=1, timeout=None)'
    wf = builder.build()
    assert isinstance(wf, Workflow)
    assert (await wf.run(n=3)).result == {"n": 3}
    assert isinstance(builder.build(), Workflow)


async def test_builder_step_timeout_applies_to_its_steps() -> None:
    @step
    async def forever(ctx: Context, ev: StartEvent) -> Any:
        await asyncio.Event().wait()

    wf = WorkflowBuilder("st").step_timeout(0.05).step(forever).build()
    with pytest.raises(Exception, match=r"(?i)timed out"):
        await wf.run()


def test_builder_refuses_bad_input() -> None:
    with pytest.raises((ValueError, *VALIDATION)):
        WorkflowBuilder("empty").build()
    with pytest.raises(TypeError):
        WorkflowBuilder("x").step(lambda ctx, ev: None)
    with pytest.raises(TypeError):
        WorkflowBuilder("x").session_pause_policy("warn_drop")


def test_token_usage() -> None:
    usage = TokenUsage()
    fields = ["prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens",
              "cached_input_tokens", "audio_input_tokens", "audio_output_tokens"]  # fmt: skip
    assert [getattr(usage, f) for f in fields] == [0] * 7
    assert repr(TokenUsage.zero()) == "TokenUsage(prompt=0, completion=0, total=0, reasoning=0)"
    total = TokenUsage(prompt_tokens=1, total_tokens=1).add(
        TokenUsage(completion_tokens=2, total_tokens=2)
    )
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (1, 2, 3)
    with pytest.raises(AttributeError):
        usage.prompt_tokens = 1  # type: ignore[misc]
    with pytest.raises(OverflowError):
        TokenUsage(prompt_tokens=-1)


def test_retry_config() -> None:
    rc = RetryConfig()
    assert (rc.max_retries, rc.initial_delay_ms, rc.max_delay_ms) == (3, 1000, 30000)
    assert (rc.honor_retry_after, rc.jitter) == (True, True)
    assert repr(rc) == "RetryConfig(max_retries=3, initial_delay_ms=1000, max_delay_ms=30000)"
    rc.max_retries, rc.initial_delay_ms, rc.max_delay_ms = 5, 10, 20
    rc.honor_retry_after, rc.jitter = False, False
    assert (rc.max_retries, rc.initial_delay_ms, rc.max_delay_ms) == (5, 10, 20)
    assert (rc.honor_retry_after, rc.jitter) == (False, False)
    with pytest.raises(TypeError):
        RetryConfig(3)  # type: ignore[misc]
    with pytest.raises(OverflowError):
        RetryConfig(max_retries=-1)
