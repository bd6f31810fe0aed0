"""``blazen runs list|show|events|resume|fork|export|delete|wait|respond|cancel|requeue``."""

from __future__ import annotations

from typing import Annotated

import typer

from blazen import Workflow, WorkflowHandler
from blazen.cli import _runs, _workers
from blazen.cli._common import EXIT_USAGE, CliError, guarded
from blazen.cli._shared import NoInputOpt, QuietOpt, RunIdArg, StoreOpt, TargetArg, drive
from blazen.stores import CheckpointStore

__all__ = ["runs_app"]

runs_app = typer.Typer(
    help="Inspect and manage the durable runs in a store.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@runs_app.command("list")
@guarded
def runs_list(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only runs of this workflow.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", "-s", help="Only runs with this status: " + ", ".join(_runs.STATUSES)
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    store: StoreOpt = None,
) -> None:
    """List runs, most recently updated first."""
    if status is not None and status not in _runs.STATUSES:
        raise CliError(
            f"bad --status {status!r}: expected one of {', '.join(_runs.STATUSES)}", EXIT_USAGE
        )
    _runs.list_runs(store, workflow, status, limit, as_json)


@runs_app.command("show")
@guarded
def runs_show(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """Show a run: its record, checkpoint history and context at the last commit."""
    _runs.show_run(store, run_id)


@runs_app.command("events")
@guarded
def runs_events(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """List every event of a run: who emitted it, for which step, and when it was handled."""
    _runs.show_events(store, run_id)


@runs_app.command("resume")
@guarded
def runs_resume(
    run_id: RunIdArg,
    target: TargetArg,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    no_input: NoInputOpt = False,
) -> None:
    """Continue a run from its last commit (after a crash, a pause or a failure)."""

    async def start(wf: Workflow, st: CheckpointStore, label: str) -> WorkflowHandler:
        full = await _runs.check_resumable(st, run_id, wf.name, target, label)
        return await wf.resume_run(full)

    drive(target, store, quiet, no_input, "Resuming", start)


@runs_app.command("fork")
@guarded
def runs_fork(
    run_id: RunIdArg,
    target: TargetArg,
    seq: Annotated[
        int | None,
        typer.Option("--seq", min=0, help="Fork from this commit (default: the last one)."),
    ] = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    no_input: NoInputOpt = False,
) -> None:
    """Start a new run from a run's state at one of its commits, and run it to the end."""

    source = run_id

    async def start(wf: Workflow, st: CheckpointStore, label: str) -> WorkflowHandler:
        nonlocal source
        source = await _runs.check_forkable(st, run_id, seq, label)
        return await wf.fork_run(source, seq)

    drive(target, store, quiet, no_input, lambda: f"Forked {source} into", start)


@runs_app.command("export")
@guarded
def runs_export(
    run_id: RunIdArg,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write ('-' for stdout; default: RUN_ID.msgpack or RUN_ID.json).",
            show_default=False,
        ),
    ] = None,
    seq: Annotated[
        int | None,
        typer.Option("--seq", min=0, help="Export the state after this commit (default: last)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Write JSON instead of MessagePack.")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Write a run as a snapshot file that `Workflow.resume(data)` accepts."""
    _runs.export(store, run_id, output, seq, as_json)


@runs_app.command("delete")
@guarded
def runs_delete(
    run_id: RunIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    store: StoreOpt = None,
) -> None:
    """Delete a run and everything stored only for it."""
    _runs.delete(store, run_id, yes)


@runs_app.command("wait")
@guarded
def runs_wait(
    run_id: RunIdArg,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="Give up after this many seconds (exit code 1)."),
    ] = None,
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Wait until a run ends, wherever it runs, and print its result (exit code 1: it failed)."""
    code = _workers.wait(store, run_id, timeout, quiet)
    if code:
        raise typer.Exit(code)


@runs_app.command("respond")
@guarded
def runs_respond(
    run_id: RunIdArg,
    request_id: Annotated[
        str, typer.Argument(metavar="REQUEST_ID", help="The input request to answer.")
    ],
    answer: Annotated[
        str,
        typer.Argument(
            metavar="JSON", help='The answer: JSON when it parses (5, true, "text"), else text.'
        ),
    ],
    store: StoreOpt = None,
) -> None:
    """Answer an input request of a stored run, from any process."""
    _workers.respond(store, run_id, request_id, answer)


@runs_app.command("cancel")
@guarded
def runs_cancel(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """Cancel a run: at once if no process runs it, else its owner stops it."""
    _workers.cancel(store, run_id)


@runs_app.command("requeue")
@guarded
def runs_requeue(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """Queue a paused or failed run so that a `blazen worker` continues it."""
    _workers.requeue(store, run_id)
