"""Placeholder (replaced by the compat branch): LLM token usage."""

from __future__ import annotations

__all__ = ["TokenUsage"]


class TokenUsage:
    """Token counts (always zero in blazen)."""
