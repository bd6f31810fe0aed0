"""The fault audit's one allowance: a step frozen between the engine's lease check and its
first line, continued after another worker committed it (one execution per freeze)."""

from __future__ import annotations

from .audit import RESUMED_WITHIN, _resumed_mid_step

FREEZE = (10.0, 20.0)  # SIGSTOP at 10 s, SIGCONT at 20 s (wall clock)


def test_the_first_line_run_right_after_the_sigcont_is_excused_once() -> None:
    used: set[tuple[float, float]] = set()
    assert _resumed_mid_step([FREEZE], used, committed_at=15.0, t=20.01)
    assert not _resumed_mid_step([FREEZE], used, committed_at=15.0, t=20.02)  # a second one


def test_executions_the_freeze_cannot_explain_are_not_excused() -> None:
    late = 20.0 + RESUMED_WITHIN + 0.01
    assert not _resumed_mid_step([FREEZE], set(), committed_at=15.0, t=late)
    assert not _resumed_mid_step([FREEZE], set(), committed_at=9.0, t=20.01)  # commit first
    assert not _resumed_mid_step([FREEZE], set(), committed_at=15.0, t=19.0)  # still frozen
    assert not _resumed_mid_step([], set(), committed_at=15.0, t=20.01)  # never frozen
