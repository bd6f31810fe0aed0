"""``TokenUsage`` (always zero here) and ``RetryConfig`` values."""

from __future__ import annotations

import dataclasses

import pytest

from blazen import RetryConfig, TokenUsage


def test_token_usage_defaults_zero_and_add() -> None:
    zero = TokenUsage.zero()
    assert zero == TokenUsage()
    assert (zero.prompt_tokens, zero.completion_tokens, zero.total_tokens) == (0, 0, 0)
    assert (zero.reasoning_tokens, zero.cached_input_tokens) == (0, 0)
    assert (zero.audio_input_tokens, zero.audio_output_tokens) == (0, 0)
    total = TokenUsage(prompt_tokens=1, total_tokens=1).add(
        TokenUsage(completion_tokens=2, total_tokens=2)
    )
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (1, 2, 3)
    assert repr(total) == "TokenUsage(prompt=1, completion=2, total=3, reasoning=0)"


def test_token_usage_is_immutable_keyword_only_and_checked() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TokenUsage().prompt_tokens = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        TokenUsage(1)  # type: ignore[misc]
    with pytest.raises(OverflowError, match="prompt_tokens"):
        TokenUsage(prompt_tokens=-1)
    with pytest.raises(TypeError, match="total_tokens"):
        TokenUsage(total_tokens=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="TokenUsage"):
        TokenUsage().add(3)  # type: ignore[arg-type]


def test_token_usage_add_saturates() -> None:
    big = TokenUsage(total_tokens=2**64 - 1)
    assert big.add(big).total_tokens == 2**64 - 1


def test_retry_config_defaults_setters_and_checks() -> None:
    rc = RetryConfig()
    assert (rc.max_retries, rc.initial_delay_ms, rc.max_delay_ms) == (3, 1000, 30000)
    assert rc.honor_retry_after is True
    assert rc.jitter is True
    assert repr(rc) == "RetryConfig(max_retries=3, initial_delay_ms=1000, max_delay_ms=30000)"
    rc.max_retries = 7
    rc.jitter = False
    assert (rc.max_retries, rc.jitter) == (7, False)
    with pytest.raises(TypeError):
        RetryConfig(3)  # type: ignore[misc]
    with pytest.raises(OverflowError, match="max_retries"):
        RetryConfig(max_retries=-1)
    with pytest.raises(TypeError, match="jitter"):
        rc.jitter = 1  # type: ignore[assignment]
    with pytest.raises(TypeError, match="max_delay_ms"):
        rc.max_delay_ms = True
