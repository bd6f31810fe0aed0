"""The ``blazen`` typer app: ``run``, ``runs list|show|events|...``, ``graph`` and ``ui``.

Every command opens its store, does its work in one ``asyncio.run`` and closes the store.
Output goes through rich; errors are one line on stderr (see ``_common``).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import typer

import blazen
from blazen import Workflow, WorkflowHandler
from blazen.cli import _runs, _workers
from blazen.cli._common import EXIT_USAGE, CliError, guarded, run_with_store, settings
from blazen.cli._drive import Driver
from blazen.cli._target import attach_store, load_workflow, parse_args, store_url
from blazen.stores import CheckpointStore

__all__ = ["app", "run_app"]

app = typer.Typer(
    name="blazen",
    help="Run blazen workflows durably and inspect, resume, fork and export their runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
runs_app = typer.Typer(
    help="Inspect and manage the durable runs in a store.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(runs_app, name="runs")

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL or SQLite file (default: $BLAZEN_STORE, else ./blazen.db).",
        show_default=False,
    ),
]
TargetArg = Annotated[
    str,
    typer.Argument(
        metavar="TARGET",
        help="The workflow: path/to/file.py:attr or package.module:attr (a Workflow, "
        "or a zero-argument callable returning one).",
        show_default=False,
    ),
]
RunIdArg = Annotated[
    str,
    typer.Argument(
        metavar="RUN_ID",
        help="The run id, or its first characters when they name one run (see `blazen runs list`).",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the result (as JSON when possible).")
]
NoInputOpt = Annotated[
    bool,
    typer.Option(
        "--no-input", help="Pause (exit code 3) instead of prompting when the run asks for input."
    ),
]


def run_app(argv: Sequence[str] | None = None) -> int:
    """Run the app and return its exit code (typer/click end with ``SystemExit``)."""
    try:
        app(args=None if argv is None else list(argv), prog_name="blazen")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


def _version(value: bool) -> None:
    if value:
        typer.echo(f"blazen {blazen.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Run blazen workflows durably and inspect, resume, fork and export their runs."""
    settings.debug = debug
    settings.interrupted_hint = None


def _drive(
    target: str,
    store: str | None,
    quiet: bool,
    no_input: bool,
    title: str | Callable[[], str],
    start: Callable[[Workflow, CheckpointStore, str], Awaitable[WorkflowHandler]],
    *,
    new_store: bool = False,
) -> None:
    """Load TARGET, make it durable, start it with ``start`` and follow the run to its end."""
    if store is not None:
        store_url(store)  # a bad --store is a usage error found before any user code runs
    wf, st, label = attach_store(load_workflow(target), store, must_exist=not new_store)

    async def work() -> int:
        handler = await start(wf, st, label)
        heading = title if isinstance(title, str) else title()  # may name what start found
        driver = Driver(handler, st, wf.name, target, label, store, quiet, no_input, heading)
        return await driver.drive()

    code = run_with_store(st, work)
    if code:
        raise typer.Exit(code)


@app.command()
@guarded
def run(
    target: TargetArg,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            help="A run argument NAME=VALUE (repeatable). VALUE is parsed as JSON when it "
            'parses (5, true, [1,2], "text"), else kept as a string.',
            show_default=False,
        ),
    ] = None,
    json_args: Annotated[
        str | None,
        typer.Option("--json-args", help="Run arguments as one JSON object.", show_default=False),
    ] = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
    no_input: NoInputOpt = False,
    submit: Annotated[
        bool,
        typer.Option(
            "--submit",
            help="Only queue the run in the store and print its id: a `blazen worker` runs it.",
        ),
    ] = False,
) -> None:
    """Run a workflow durably: every step is committed to the store as it finishes."""
    kwargs = parse_args(arg or (), json_args)
    if submit:
        if store is not None:
            store_url(store)
        _workers.submit(target, store, kwargs, quiet)
        return

    async def start(wf: Workflow, st: CheckpointStore, label: str) -> WorkflowHandler:
        return await wf.run_with_handler(**kwargs)

    _drive(target, store, quiet, no_input, "Running", start, new_store=True)


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

    _drive(target, store, quiet, no_input, "Resuming", start)


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

    _drive(target, store, quiet, no_input, lambda: f"Forked {source} into", start)


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


@app.command()
@guarded
def worker(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET...",
            help="The workflows to run (path/to/file.py:attr or module:attr), one or more.",
            show_default=False,
        ),
    ],
    store: StoreOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Runs executed at once.")
    ] = 8,
    lease: Annotated[
        float | None,
        typer.Option(
            "--lease",
            min=0.1,
            help="Seconds a claim lasts unless renewed (default: the workflow's, 30).",
            show_default=False,
        ),
    ] = None,
    drain_timeout: Annotated[
        float,
        typer.Option(
            "--drain-timeout",
            min=0,
            help="On SIGTERM, seconds to let running runs finish before releasing them.",
        ),
    ] = 10.0,
) -> None:
    """Run queued runs (and take over runs whose worker died) until SIGTERM or Ctrl-C."""
    if store is not None:
        store_url(store)
    _workers.serve_worker(targets, store, concurrency, lease, drain_timeout)


@app.command()
@guarded
def graph(
    target: TargetArg,
    format: Annotated[
        str,
        typer.Option("--format", "-f", help="mermaid, dot, or svg (svg runs Graphviz's `dot`)."),
    ] = "mermaid",
) -> None:
    """Print a workflow's graph of steps and event types."""
    from blazen.cli._graph_cmd import print_graph

    print_graph(target, format)


@app.command()
@guarded
def ui(
    store: StoreOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (other than loopback needs --token).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free).")
    ] = 8787,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="BLAZEN_UI_TOKEN",
            help="Require this token on every request (header, or a cookie set by the "
            "printed ?token= link). Also read from $BLAZEN_UI_TOKEN.",
            show_default=False,
        ),
    ] = None,
    allow_actions: Annotated[
        bool,
        typer.Option(
            "--allow-actions", help="Enable answering input requests, cancel, resume and fork."
        ),
    ] = False,
) -> None:
    """Serve a web viewer of the runs in a store (needs the ui extra)."""
    from blazen.cli._ui import serve_ui

    serve_ui(store, host, port, token, allow_actions)
