"""``TokenUsage`` and ``RetryConfig``: the LLM-side value types the workflow API names.

blazen runs no LLM providers, so a run's usage is always zero; ``RetryConfig`` is accepted
by ``Workflow(retry_config=...)`` and ``WorkflowBuilder.retry_config`` and kept on the
workflow, as in the Rust-core package, where it configures LLM calls and never re-runs a
step (blazen's step retries are ``@step(retries=N)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RetryConfig", "TokenUsage"]

_U64_MAX = 2**64 - 1


def _count(owner: str, name: str, value: Any) -> int:
    """An unsigned 64-bit count: an int (not a bool) in 0..2**64-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}.{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _U64_MAX:
        raise OverflowError(f"{owner}.{name} must be in 0..2**64-1, got {value}")
    return value


def _flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be a bool, not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class TokenUsage:
    """Token counts of LLM calls; immutable. ``add`` sums field by field (saturating)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_input_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            _count("TokenUsage", f.name, getattr(self, f.name))

    @staticmethod
    def zero() -> TokenUsage:
        """Every counter zero (the usage of any blazen run)."""
        return _ZERO

    def add(self, other: TokenUsage) -> TokenUsage:
        """A new ``TokenUsage`` whose counters are ``self + other`` (capped at 2**64-1)."""
        if not isinstance(other, TokenUsage):
            raise TypeError(f"TokenUsage.add needs a TokenUsage, not {type(other).__name__}")
        sums = {
            f.name: min(getattr(self, f.name) + getattr(other, f.name), _U64_MAX)
            for f in fields(self)
        }
        return TokenUsage(**sums)

    def __repr__(self) -> str:
        return (
            f"TokenUsage(prompt={self.prompt_tokens}, completion={self.completion_tokens}, "
            f"total={self.total_tokens}, reasoning={self.reasoning_tokens})"
        )


_ZERO = TokenUsage()


class RetryConfig:
    """Retry policy for LLM calls (keyword-only; every field is a read-write property)."""

    __slots__ = ("_honor", "_initial", "_jitter", "_max_delay", "_max_retries")

    def __init__(
        self,
        *,
        max_retries: int = 3,
        initial_delay_ms: int = 1000,
        max_delay_ms: int = 30000,
        honor_retry_after: bool = True,
        jitter: bool = True,
    ) -> None:
        self.max_retries = max_retries
        self.initial_delay_ms = initial_delay_ms
        self.max_delay_ms = max_delay_ms
        self.honor_retry_after = honor_retry_after
        self.jitter = jitter

    @property
    def max_retries(self) -> int:
        return self._max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self._max_retries = _count("RetryConfig", "max_retries", value)

    @property
    def initial_delay_ms(self) -> int:
        return self._initial

    @initial_delay_ms.setter
    def initial_delay_ms(self, value: int) -> None:
        self._initial = _count("RetryConfig", "initial_delay_ms", value)

    @property
    def max_delay_ms(self) -> int:
        return self._max_delay

    @max_delay_ms.setter
    def max_delay_ms(self, value: int) -> None:
        self._max_delay = _count("RetryConfig", "max_delay_ms", value)

    @property
    def honor_retry_after(self) -> bool:
        return self._honor

    @honor_retry_after.setter
    def honor_retry_after(self, value: bool) -> None:
        self._honor = _flag("RetryConfig", "honor_retry_after", value)

    @property
    def jitter(self) -> bool:
        return self._jitter

    @jitter.setter
    def jitter(self, value: bool) -> None:
        self._jitter = _flag("RetryConfig", "jitter", value)

    def __repr__(self) -> str:
        return (
            f"RetryConfig(max_retries={self._max_retries}, initial_delay_ms={self._initial}, "
            f"max_delay_ms={self._max_delay})"
        )
