"""Checks of a store's history against the side-effect log, after faults.

* every run completed with its exact result;
* no committed step ran again: every execution of a step instance started before that
  instance's commit (one started after it would be a re-run of committed work; the log
  holds each execution's start time);
* no commit was accepted from a stale epoch: along each run's history the epochs never go
  down, and a new epoch starts only with the ``<resume>`` commit of the claim that made it;
* every duplicated execution (beyond the one that was committed) comes from a process that
  was disrupted (killed, stopped past its lease, or that lost a lease): it was in flight.

A process stopped (SIGSTOP) after the engine let a step start but before the step's first
line took its start time logs that time only once continued, possibly after another worker
has taken over and committed the step. Such an execution was in flight at the freeze: it is
counted (``resumed_mid_step``), not reported as run after its commit, when its start time
is within ``RESUMED_WITHIN`` of that process's SIGCONT and the freeze began before the
commit; one such execution per freeze at most (a worker has one step between the check and
its first line at a time). A step not yet started when the process continues is stopped by
the engine's lease check: any further execution after the commit is reported.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from blazen.stores.base import CheckpointInfo, CheckpointStore

from .flows import PARTS, expected

RESUMED_WITHIN = 0.2
"""Seconds after a SIGCONT within which a step's first line still belongs to the freeze."""


def _resumed_mid_step(
    windows: list[tuple[float, float]],
    used: set[tuple[float, float]],
    committed_at: float,
    t: float,
) -> bool:
    """Whether an execution starting at ``t`` is the one frozen before its first line: the
    process was stopped before the commit and continued just before ``t`` (each freeze
    excuses one execution: ``used`` holds those already taken)."""
    for window in windows:
        stopped, resumed = window
        if (
            window not in used
            and stopped < committed_at
            and resumed <= t <= resumed + RESUMED_WITHIN
        ):
            used.add(window)
            return True
    return False


@dataclass
class Audit:
    runs: int = 0
    completed: int = 0
    executions: int = 0
    duplicates: int = 0
    after_commit: list[str] = field(default_factory=list)
    undisrupted_duplicates: list[str] = field(default_factory=list)
    epoch_problems: list[str] = field(default_factory=list)
    wrong_results: list[str] = field(default_factory=list)
    claims: int = 0
    resumed_mid_step: int = 0

    def problems(self) -> list[str]:
        return [*self.after_commit, *self.undisrupted_duplicates, *self.epoch_problems,
                *self.wrong_results]  # fmt: skip


def _instances(history: list[CheckpointInfo]) -> dict[str, CheckpointInfo]:
    """The commit of each step instance of a fan-out run: begin, work0..3, gather."""
    found: dict[str, CheckpointInfo] = {}
    for c in history:
        if c.step == "begin":
            found["begin"] = c
        elif c.step == "work":
            for i in range(PARTS):
                if f"by{i}" in c.writes:
                    found[f"work{i}"] = c
    found["gather"] = history[-1]
    return found


def _epochs(run_id: str, history: list[CheckpointInfo]) -> list[str]:
    problems = []
    for prev, cur in itertools.pairwise(history):
        if cur.epoch < prev.epoch:
            problems.append(
                f"{run_id}: commit {cur.seq} of epoch {cur.epoch} after epoch {prev.epoch}"
            )
        elif cur.epoch > prev.epoch and cur.step != "<resume>":
            problems.append(f"{run_id}: epoch {cur.epoch} starts with {cur.step!r}, not <resume>")
    return problems


async def audit(
    store: CheckpointStore,
    run_seeds: dict[str, int],
    log: list[tuple[float, str, str, int]],
    disrupted: set[int],
    frozen: dict[int, list[tuple[float, float]]] | None = None,
) -> Audit:
    """Check every run of ``run_seeds`` (see the module docstring)."""
    out = Audit(runs=len(run_seeds), executions=len(log))
    excused: set[tuple[float, float]] = set()  # freezes that excused an execution
    by_instance: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for t, run_id, name, pid in log:
        by_instance[(run_id, name)].append((t, pid))
    for run_id, seed in run_seeds.items():
        record = await store.get_run(run_id)
        if record.status != "completed":
            out.wrong_results.append(f"{run_id}: {record.status} ({record.error})")
            continue
        out.completed += 1
        result: Any = (await store.load(run_id)).result
        value = None if result is None else result.as_json()
        if value != expected(seed):
            out.wrong_results.append(f"{run_id}: result {value!r}, expected {expected(seed)!r}")
        history = await store.checkpoints(run_id)
        out.claims += sum(1 for c in history if c.step == "<resume>")
        out.epoch_problems += _epochs(run_id, history)
        for name, commit in _instances(history).items():
            runs = by_instance.get((run_id, name), [])
            if not runs:
                out.wrong_results.append(f"{run_id}: {name} committed but never executed")
            for t, pid in runs:
                if t > commit.created_at and _resumed_mid_step(
                    (frozen or {}).get(pid, []), excused, commit.created_at, t
                ):
                    out.resumed_mid_step += 1
                elif t > commit.created_at:
                    out.after_commit.append(
                        f"{run_id}: {name} executed by {pid} at {t:.6f}, after its commit"
                        f" {commit.seq} at {commit.created_at:.6f}"
                    )
            if len(runs) > 1:
                out.duplicates += len(runs) - 1
                pids = Counter(pid for _, pid in runs)
                calm = [pid for pid in pids if pid not in disrupted]
                if len(calm) > 1 or any(pids[pid] > 1 for pid in calm):
                    out.undisrupted_duplicates.append(f"{run_id}: {name} executed by {dict(pids)}")
    return out
