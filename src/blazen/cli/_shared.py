"""What the command modules share: the typer parameter types and ``drive``, which starts a
run of TARGET on its store and follows it to its end (``run``, ``runs resume|fork``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from blazen import Workflow, WorkflowHandler
from blazen.cli._common import run_with_store
from blazen.cli._drive import Driver
from blazen.cli._target import attach_store, load_workflow, store_url
from blazen.stores import CheckpointStore

__all__ = ["NoInputOpt", "QuietOpt", "RunIdArg", "StoreOpt", "TargetArg", "drive"]

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


def drive(
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
