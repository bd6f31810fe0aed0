"""What every command shares: consoles, the ``--debug`` flag and the error boundary.

Errors a user can fix are one line on stderr (``error: ...``) and an exit code: 2 for bad
usage (a TARGET or argument that cannot work), 1 for everything else. A traceback is shown
only with ``blazen --debug``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from blazen.errors import StartEventError, StepError, StoreError, WorkflowError
from blazen.stores import CheckpointStore, RunRecord

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_PAUSED",
    "EXIT_USAGE",
    "CliError",
    "console",
    "describe",
    "guarded",
    "report_error",
    "resolve_run",
    "run_with_store",
    "settings",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PAUSED = 3
EXIT_INTERRUPTED = 130

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class CliError(Exception):
    """A problem to report as one line (``error: <message>``) and exit with ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Settings:
    """Per-invocation options set by the top-level callback."""

    debug: bool = False
    interrupted_hint: str | None = None


settings = Settings()


def console(*, stderr: bool = False) -> Console:
    """A console; when output is not a terminal, wide enough that tables do not wrap ids."""
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(stderr=stderr, highlight=False, width=160)
    return out


def report_error(message: str, exc: BaseException | None = None) -> None:
    """Print ``error: message`` on stderr (and the traceback of ``exc`` with ``--debug``)."""
    err = console(stderr=True)
    if settings.debug and exc is not None:
        err.print("".join(traceback.format_exception(exc)), end="", markup=False)
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def describe(exc: BaseException) -> str:
    """A one-line account of an exception raised by blazen or by user code."""
    if isinstance(exc, StepError):
        cause = exc.__cause__
        what = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        return f"step {exc.step_name!r} failed: {what}"
    return f"{type(exc).__name__}: {exc}"


def guarded(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a command, turning every error into one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except CliError as exc:
            report_error(str(exc), exc.__cause__ or exc)
            raise typer.Exit(exc.code) from None
        except StartEventError as exc:  # the command line's --arg values: a usage error
            report_error(f"{exc} (check the --arg values)", exc)
            raise typer.Exit(EXIT_USAGE) from None
        except WorkflowError as exc:
            report_error(describe(exc), exc)
            raise typer.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            hint = f"; {settings.interrupted_hint}" if settings.interrupted_hint else ""
            report_error(f"interrupted{hint}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            hint = "" if settings.debug else " (run `blazen --debug ...` for the traceback)"
            report_error(f"unexpected {type(exc).__name__}: {exc}{hint}", exc)
            raise typer.Exit(EXIT_FAILED) from None

    return wrapper


_SHOWN = 5  # matching runs named in the error of an ambiguous RUN_ID prefix


async def resolve_run(store: CheckpointStore, run_id: str, label: str) -> RunRecord:
    """The record of the run RUN_ID names: the run with that id, else the only run whose id
    starts with it (as git takes a commit's short hash).

    Several matches are a usage error naming them; none is the store's unknown-run error.
    """
    try:
        return await store.get_run(run_id)
    except StoreError as exc:
        unknown = exc
    finder = getattr(store, "find_runs", None)  # a third-party store may not have it
    matches: list[RunRecord] = []
    if run_id and finder is not None:
        matches = await finder(run_id, limit=_SHOWN + 1)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"{unknown} (store: {label}; see `blazen runs list`)") from unknown
    named = ", ".join(f"{r.run_id} ({r.workflow_name}, {r.status})" for r in matches[:_SHOWN])
    more = " and more (see `blazen runs list`)" if len(matches) > _SHOWN else ""
    raise CliError(
        f"run id {run_id!r} is ambiguous in {label}: it starts the ids of {named}{more}; "
        "give more of the id",
        EXIT_USAGE,
    )


def run_with_store(
    store: CheckpointStore, work: Callable[[], Awaitable[_T]], *, close: bool = True
) -> _T:
    """``asyncio.run(work())``, then close the store (unless ``close`` is false)."""

    async def main() -> _T:
        try:
            return await work()
        finally:
            if close:
                await store.close()

    return asyncio.run(main())
