"""The commands of many workers on one store: ``worker``, ``run --submit`` and ``runs
wait|respond|cancel|requeue`` (these four act on a stored run from any process)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from blazen import Workflow
from blazen._runtime.outcome import stored_result
from blazen.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    CliError,
    console,
    resolve_run,
    run_with_store,
)
from blazen.cli._render import stored_text
from blazen.cli._target import load_workflow, open_cli_store, sqlite_file, store_url
from blazen.errors import RunAbortedError, StoreError, WorkflowError, WorkflowTimeoutError
from blazen.stores import CheckpointStore
from blazen.worker import Worker

__all__ = ["cancel", "requeue", "respond", "serve_worker", "submit", "wait"]


def _store(option: str | None, *, must_exist: bool = True) -> tuple[CheckpointStore, str]:
    url = store_url(option)
    return open_cli_store(url, must_exist=must_exist), sqlite_file(url) or url


def _on(store: CheckpointStore, wf: Workflow) -> Workflow:
    """``wf`` with ``store`` (the CLI's ``--store``) instead of its own."""
    return Workflow(
        wf.name,
        wf.steps,
        timeout=wf.timeout,
        session_pause_policy=wf.session_pause_policy,
        store=store,
        lease=wf.lease,
    )


# -- blazen run --submit ---------------------------------------------------------------------


def submit(target: str, option: str | None, kwargs: dict[str, Any], quiet: bool) -> None:
    """Store a queued run; print its id (a worker runs it)."""
    wf = load_workflow(target)
    store, label = _store(option, must_exist=False) if option or wf.store is None else (
        wf.store, type(wf.store).__name__)  # fmt: skip
    durable = _on(store, wf)
    run_id = run_with_store(store, lambda: durable.submit(**kwargs))
    if quiet:
        print(run_id)
        return
    out = console()
    out.print(Text.assemble(("Queued ", "bold"), (wf.name, "bold cyan")))
    out.print(Text.assemble("  run id  ", (run_id, "bold")))
    out.print(Text.assemble("  store   ", label))
    out.print(
        f"a `blazen worker` on this store runs it; `blazen runs wait {run_id}` gives its result"
    )


# -- blazen worker ---------------------------------------------------------------------------


def serve_worker(
    targets: Sequence[str],
    option: str | None,
    concurrency: int,
    lease: float | None,
    drain_timeout: float,
) -> None:
    """Run a worker until SIGTERM or Ctrl-C (which drain it; a second Ctrl-C exits at once)."""
    store, label = _store(option, must_exist=False)
    workflows = [_on(store, load_workflow(target)) for target in targets]
    worker = Worker(
        workflows,
        store,
        concurrency=concurrency,
        lease=lease,
        drain_timeout=drain_timeout,
    )
    err = console(stderr=True)
    names = ", ".join(wf.name for wf in workflows)
    err.print(
        f"blazen worker {os.getpid()}: {names} on {label}, {concurrency} at a time, lease "
        f"{worker.lease:g} s (SIGTERM or Ctrl-C drains)",
        markup=False,
        soft_wrap=True,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def drain(signum: int) -> None:
            if worker.stopping and signum == signal.SIGINT:
                sys.stdout.flush()
                os._exit(EXIT_INTERRUPTED)  # like a crash: the runs are taken over
            err.print(f"draining ({signal.Signals(signum).name})", markup=False)
            worker.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, drain, signum)
        await worker.run()

    run_with_store(store, main)
    stats = worker.stats
    err.print(
        f"blazen worker {os.getpid()} stopped: {stats.claimed} claimed, {stats.finished} "
        f"finished, {stats.handed_over} released, {stats.lost} lost, {stats.refused} refused",
        markup=False,
        soft_wrap=True,
    )


# -- blazen runs wait | respond | cancel | requeue ------------------------------------------------


def wait(option: str | None, run_id: str, timeout: float | None, quiet: bool) -> int:
    """Print the result of a stored run once it ends; the exit code."""
    store, label = _store(option)

    async def work() -> Any:
        nonlocal run_id
        run_id = (await resolve_run(store, run_id, label)).run_id
        return await stored_result(store, run_id, timeout)

    try:
        result = run_with_store(store, work)
    except WorkflowTimeoutError as exc:
        raise CliError(str(exc)) from exc
    except RunAbortedError as exc:
        console(stderr=True).print(Text.assemble(("cancelled: ", "bold yellow"), str(exc)))
        return EXIT_FAILED
    except WorkflowError as exc:
        if isinstance(exc, StoreError):
            raise
        console(stderr=True).print(Text.assemble(("error: ", "bold red"), str(exc)))
        return EXIT_FAILED
    text = stored_text(result)
    if quiet:
        print(text)
    else:
        out = console()
        out.print(Text.assemble(("✔ completed", "bold green"), f" run {run_id}"))
        out.print(text, markup=False, highlight=False)
    return 0


def respond(option: str | None, run_id: str, request_id: str, answer: str) -> None:
    """Record the answer to an input request of a stored run."""
    store, label = _store(option)
    response = _answer(answer)

    async def work() -> str:
        full = (await resolve_run(store, run_id, label)).run_id
        await store.respond(full, request_id, response)
        return full

    run_id = run_with_store(store, work)
    console().print(
        f"answered {request_id!r} of run {run_id}; the process running it (or a worker) "
        "continues it",
        markup=False,
        soft_wrap=True,
    )


def cancel(option: str | None, run_id: str) -> None:
    """Cancel a stored run (at once, or by its owner within a second)."""
    store, label = _store(option)

    async def work() -> tuple[str, str]:
        full = (await resolve_run(store, run_id, label)).run_id
        await store.cancel(full)
        return full, (await store.get_run(full)).status

    run_id, status = run_with_store(store, work)
    what = "cancelled" if status == "cancelled" else "cancel requested (its owner stops it)"
    console().print(f"run {run_id}: {what}", markup=False)


def requeue(option: str | None, run_id: str) -> None:
    """Queue a paused or failed run for a worker."""
    store, label = _store(option)

    async def work() -> str:
        full = (await resolve_run(store, run_id, label)).run_id
        await store.requeue(full)
        return full

    run_id = run_with_store(store, work)
    console().print(f"run {run_id} is queued: a `blazen worker` continues it", markup=False)


def _answer(text: str) -> Any:
    """The answer as JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text
