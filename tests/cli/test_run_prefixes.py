"""A RUN_ID may be the first characters of a run's id when they name one run (every backend)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from blazen.stores import RunStatus, open_store

from .conftest import Blazen, CliStore, every_backend, flow, run_id_of

pytestmark = every_backend

COMMANDS = [
    ["show"],
    ["events"],
    ["export", "-o", "-"],
    ["delete", "--yes"],
    ["resume", flow("echo")],
    ["fork", flow("echo")],
]


def seed(cli_store: CliStore, runs: list[tuple[str, str, RunStatus]]) -> None:
    """Write runs with chosen ids straight into the test's store."""

    async def write() -> None:
        store = open_store(cli_store.url or str(cli_store.tmp_path / "blazen.db"))
        try:
            for run_id, workflow, status in runs:
                await store.create_run(
                    run_id,
                    workflow,
                    owner="seed",
                    context_state={},
                    pending=[],
                    collected={},
                    metadata={},
                    status=status,
                )
        finally:
            await store.close()

    asyncio.run(write())


def unique_prefix(run_id: str, others: list[str]) -> str:
    """The shortest prefix of ``run_id`` (8 characters at least) that no other id starts with."""
    for n in range(8, len(run_id)):
        if not any(other.startswith(run_id[:n]) for other in others):
            return run_id[:n]
    raise AssertionError(f"{run_id} has no unique prefix among {others}")


def test_a_unique_prefix_names_the_run(cli: Blazen, tmp_path: Path, cli_store: CliStore) -> None:
    first = run_id_of(cli("run", flow("ask"), "--no-input").out)
    second = run_id_of(cli("run", flow("echo"), "--arg", "x=1").out)
    prefix = unique_prefix(first, [second])

    show = cli("runs", "show", prefix)
    assert show.code == 0, show.err
    assert show.out.startswith(f"Run {first}\n  workflow    cli-ask\n  status      waiting\n")
    events = cli("runs", "events", prefix)
    # the StartEvent, and the input request the run waits on (its history keeps it)
    assert events.out.splitlines()[-1] == f"2 events of run {first}, 1 pending", events.out
    exported = cli("runs", "export", prefix, "--json")
    assert exported.code == 0, exported.err
    assert (tmp_path / f"{first}.json").exists()
    forked = cli("runs", "fork", prefix, flow("ask"), "-q", input="Ada\n")
    assert (forked.code, json.loads(forked.out)) == (0, "hello, Ada"), forked.err
    resumed = cli("runs", "resume", prefix, flow("ask"), "-q", input="Grace\n")
    assert (resumed.code, json.loads(resumed.out)) == (0, "hello, Grace"), resumed.err
    assert {r.run_id: r.status for r in cli_store.records()}[first] == "completed"
    deleted = cli("runs", "delete", prefix, "--yes")
    assert deleted.out.startswith(f"deleted run {first} from "), deleted.err
    assert first not in [r.run_id for r in cli_store.records()]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_ambiguous_prefix_is_a_usage_error_naming_the_runs(
    cli: Blazen, cli_store: CliStore, command: list[str]
) -> None:
    seed(cli_store, [("ambig-1", "cli-echo", "running"), ("ambig-2", "cli-ask", "completed")])
    res = cli("runs", command[0], "ambig", *command[1:])
    assert res.code == 2, (res.out, res.err)
    assert res.err.strip().splitlines() == [
        f"error: run id 'ambig' is ambiguous in {cli_store.label}: it starts the ids of ambig-1 "
        "(cli-echo, running), ambig-2 (cli-ask, completed); give more of the id"
    ]
    assert len(cli_store.records()) == 2  # nothing deleted, resumed or forked


def test_many_matches_are_cut_short(cli: Blazen, cli_store: CliStore) -> None:
    seed(cli_store, [(f"many-{i}", "cli-echo", "failed") for i in range(7)])
    res = cli("runs", "show", "many-")
    assert res.code == 2
    assert "many-4 (cli-echo, failed) and more (see `blazen runs list`); give more" in res.err
    assert "many-5" not in res.err


def test_an_exact_id_wins_over_longer_ids_it_starts(cli: Blazen, cli_store: CliStore) -> None:
    seed(cli_store, [("same", "cli-echo", "running"), ("same-but-longer", "cli-ask", "running")])
    res = cli("runs", "show", "same")
    assert res.code == 0, res.err
    assert res.out.startswith("Run same\n")


def test_no_match_is_the_unknown_run_error(cli: Blazen, cli_store: CliStore) -> None:
    seed(cli_store, [("ambig-1", "cli-echo", "running")])
    res = cli("runs", "show", "ambig-2")
    assert res.code == 1
    assert res.err.strip() == (
        f"error: unknown run id 'ambig-2' (store: {cli_store.label}; see `blazen runs list`)"
    )
