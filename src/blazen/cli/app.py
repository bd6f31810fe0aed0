"""The ``blazen`` typer app: ``run``, ``runs list|show|events|...``, ``graph`` and ``ui``.

Every command opens its store, does its work in one ``asyncio.run`` and closes the store.
Output goes through rich; errors are one line on stderr (see ``_common``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

import blazen
from blazen import Workflow, WorkflowHandler
from blazen.cli import _workers
from blazen.cli._common import guarded, settings
from blazen.cli._runs_app import runs_app
from blazen.cli._shared import NoInputOpt, QuietOpt, StoreOpt, TargetArg, drive
from blazen.cli._target import parse_args, store_url
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
app.add_typer(runs_app, name="runs")


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

    drive(target, store, quiet, no_input, "Running", start, new_store=True)


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
