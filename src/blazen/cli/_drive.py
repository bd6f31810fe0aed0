"""Watching a run to its end: progress, streamed events, human input, result or error."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.json import JSON
from rich.pretty import Pretty
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from blazen import Event, InputRequestEvent, StepError, WorkflowHandler
from blazen.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PAUSED,
    console,
    describe,
    report_error,
    settings,
)
from blazen.cli._render import json_text, preview
from blazen.errors import StoreError, WorkflowError, WorkflowTimeoutError
from blazen.stores import CheckpointStore
from blazen.stores.memory import MemoryStore

__all__ = ["Driver", "InputWait"]

_EOF = ""


@dataclass(frozen=True)
class InputWait:
    """An input request of the run (an ``InputRequestEvent`` on its stream)."""

    request_id: str
    prompt: str


@dataclass
class Driver:
    """Drives one started run; ``await driver.drive()`` returns the exit code."""

    handler: WorkflowHandler
    store: CheckpointStore
    workflow: str
    target: str
    store_label: str
    store_flag: str | None = None
    quiet: bool = False
    no_input: bool = False
    title: str = "Running"
    out: Console = field(default_factory=console)
    _started: float = field(default_factory=time.monotonic)
    _progress: Progress | None = None
    _events: int = 0
    _paused: InputWait | None = None
    _asked: set[str] = field(default_factory=set)
    _interrupted: bool = False
    _pausing: asyncio.Future[None] | None = None
    _ended: asyncio.Future[None] = field(init=False)
    _parked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def run_id(self) -> str:
        return self.handler.run_id

    def resume_command(self) -> str:
        """The command that continues this run."""
        cmd = f"blazen runs resume {self.run_id} {shlex.quote(self.target)}"
        return cmd + (f" --store {shlex.quote(self.store_flag)}" if self.store_flag else "")

    def in_memory(self) -> bool:
        """The run lives in this process only (``memory://``): no command can continue it."""
        return isinstance(self.store, MemoryStore)

    def continue_hint(self, how: str = "continue it with") -> str:
        """``how: <resume command>``, or why an in-memory run cannot be continued."""
        if self.in_memory():
            return (
                "an in-memory run (memory://) cannot be resumed: it ends with this process "
                "(use a durable store, e.g. --store blazen.db, to continue runs later)"
            )
        return f"{how}: {self.resume_command()}"

    # -- the loop ------------------------------------------------------------------------

    async def drive(self) -> int:
        """Print the header, follow the stream (answering input requests), then the outcome."""
        settings.interrupted_hint = (
            f"run {self.run_id} is lost; {self.continue_hint()}"
            if self.in_memory()
            else f"run {self.run_id} stays in the store; {self.continue_hint()}"
        )
        if self.quiet:
            self.out = console(stderr=True)  # prompts go to stderr; stdout gets the result only
        else:
            self._header()
        self._start_status()
        # Awaiting the outcome from the start also marks it retrieved if the process is
        # interrupted (Ctrl-C) and the run's steps are cancelled as the loop shuts down.
        self._ended = asyncio.ensure_future(self._run_ended())
        interrupts = self._catch_interrupts()
        try:
            # A paused run stays parked and its stream open: stop following it then.
            follow = asyncio.ensure_future(self._follow())
            parked = asyncio.ensure_future(self._parked.wait())
            await asyncio.wait({follow, parked}, return_when=asyncio.FIRST_COMPLETED)
            for task in (follow, parked):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            self._stop_status()
            if interrupts:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        return await self._finish()

    async def _follow(self) -> None:
        """Print the stream and answer its input requests until the run ends or pauses."""
        # A resumed run re-publishes the input requests it still waits on.
        stream = self.handler.stream_events()
        try:
            async for event in stream:
                if not await self._on_event(event):
                    break
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _on_event(self, event: Event) -> bool:
        self._events += 1
        if isinstance(event, InputRequestEvent):
            if event.request_id in self._asked:  # asked (and answered) already
                return True
            self._asked.add(event.request_id)
            return await self._answer(InputWait(event.request_id, event.prompt))
        if not self.quiet:
            self._print_event(event)
        self._update_status()
        return True

    # -- Ctrl-C --------------------------------------------------------------------------

    def _catch_interrupts(self) -> bool:
        """Ctrl-C pauses the run (its running steps finish first); a second one exits."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_interrupt)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            return False
        return True

    def _on_interrupt(self) -> None:
        self._stop_status()
        err = console(stderr=True)
        if self._interrupted:
            kept = "is lost" if self.in_memory() else "stays in the store as it was"
            err.print(
                f"stopped at once: run {self.run_id} {kept}; {self.continue_hint()}",
                markup=False,
                soft_wrap=True,
            )
            sys.stdout.flush()
            os._exit(EXIT_INTERRUPTED)  # like a crash: the store keeps every commit so far
        self._interrupted = True
        err.print(
            f"interrupted: pausing run {self.run_id} once its running steps finish "
            f"(Ctrl-C again to stop at once)",
            markup=False,
            soft_wrap=True,
        )
        self._pausing = asyncio.ensure_future(self._pause_now())

    async def _pause_now(self) -> None:
        try:
            if self.handler.status in ("running", "waiting"):
                await self.handler.pause()
        except WorkflowError as exc:
            report_error(f"cannot pause run {self.run_id}: {describe(exc)}", exc)
        if self.handler.status == "paused":
            self._parked.set()

    # -- display -------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _header(self) -> None:
        self.out.print(Text.assemble((f"{self.title} ", "bold"), (self.workflow, "bold cyan")))
        self.out.print(Text.assemble("  run id  ", (self.run_id, "bold")))
        self.out.print(Text.assemble("  store   ", self.store_label))

    def _print_event(self, event: Event) -> None:
        fields = " ".join(f"{k}={preview(v, 80)}" for k, v in event.to_dict().items())
        self.out.print(
            Text.assemble(
                (f"  +{self._elapsed():.2f}s ", "dim"), (event.event_type, "cyan"), " ", fields
            ),
            soft_wrap=True,
        )

    def _start_status(self) -> None:
        if self.quiet or not self.out.is_terminal:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.out,
            transient=True,
        )
        self._progress.add_task(self._status_line(), total=None)
        self._progress.start()

    def _stop_status(self) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _status_line(self) -> str:
        return f"{self.workflow} {self.handler.status} · {self._events} events"

    def _update_status(self) -> None:
        if self._progress is not None:
            self._progress.update(self._progress.task_ids[0], description=self._status_line())

    # -- human input ---------------------------------------------------------------------

    async def _answer(self, wait: InputWait) -> bool:
        """Ask for and deliver one input; ``False`` when the run was paused instead."""
        if self.no_input:
            await self._pause(wait)
            return False
        self._stop_status()
        self.out.print(Text.assemble(("? ", "bold cyan"), (wait.prompt, "bold"), " "), end="")
        self.out.file.flush()
        line = await self._read_line()
        if line is None:  # the run ended while we waited
            self.out.print()
            return True
        if line == _EOF:
            self.out.print()
            self.out.print(Text("(no input: stdin is closed)", style="dim"))
            await self._pause(wait)
            return False
        if not _interactive():
            self.out.print(line.rstrip("\r\n"), markup=False, highlight=False)
        if self._progress is not None:
            self._progress.start()
        with contextlib.suppress(WorkflowError):  # the run may have ended meanwhile
            await self.handler.respond_to_input(wait.request_id, line.rstrip("\r\n"))
        return True

    async def _read_line(self) -> str | None:
        """A line from stdin (``""`` at EOF), or ``None`` if the run ends first."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def deliver(text: str) -> None:
            if not line.done():
                line.set_result(text)

        def reader() -> None:
            try:
                text = sys.stdin.readline() if sys.stdin is not None else _EOF
            except (OSError, ValueError):
                text = _EOF
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(deliver, text)

        # A daemon thread, not the default executor: an unanswered read must not keep
        # the process alive once the run is over.
        threading.Thread(target=reader, name="blazen-cli-stdin", daemon=True).start()
        waiters: list[asyncio.Future[Any]] = [line, self._ended]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        return line.result() if line.done() else None

    async def _run_ended(self) -> None:
        with contextlib.suppress(Exception):
            await self.handler.result()

    async def _pause(self, wait: InputWait) -> None:
        if self.handler.status in ("running", "waiting"):
            await self.handler.pause()
        self._paused = wait

    # -- the outcome ---------------------------------------------------------------------

    async def _finish(self) -> int:
        if self.handler.status == "paused":
            return self._report_paused()
        try:
            stop = await self.handler.result()
        except WorkflowError as exc:
            return self._report_failure(exc)
        await self._report_result(stop.result)
        return 0

    async def _commits(self) -> str:
        try:
            record = await self.store.get_run(self.run_id)
        except StoreError:
            return ""
        return f" · {record.last_seq + 1} commits"

    async def _report_result(self, result: Any) -> None:
        if self.quiet:
            print(json_text(result) or repr(result))
            return
        commits = await self._commits()
        self.out.print(
            Text.assemble(("✔ completed", "bold green"), f" in {self._elapsed():.2f}s{commits}")
        )
        self.out.print(Text("Result:", style="bold"))
        text = json_text(result, indent=2)
        self.out.print(JSON(text) if text is not None else Pretty(result))
        self.out.print(Text.assemble("run id: ", (self.run_id, "bold")))

    def _report_paused(self) -> int:
        out = self.out
        wait = self._paused
        if wait is None:
            out.print(
                Text.assemble(("⏸ paused", "bold blue"), f" run {self.run_id}"), soft_wrap=True
            )
            out.print(f"  {self.continue_hint()}", markup=False, soft_wrap=True)
            return EXIT_INTERRUPTED if self._interrupted else EXIT_PAUSED
        what = f"waiting for input {wait.request_id!r}: {wait.prompt}"
        out.print(
            Text.assemble(("⏸ paused", "bold blue"), f" run {self.run_id}, {what}"), soft_wrap=True
        )
        out.print(f"  {self.continue_hint('answer it with')}", markup=False, soft_wrap=True)
        return EXIT_PAUSED

    def _report_failure(self, exc: WorkflowError) -> int:
        err = console(stderr=True)
        if settings.debug:
            err.print("".join(traceback.format_exception(exc)), end="", markup=False)
        if isinstance(exc, StepError):
            cause = exc.__cause__
            why = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
            message = f"run {self.run_id} failed in step {exc.step_name!r}: {why}"
        elif isinstance(exc, WorkflowTimeoutError):
            message = f"run {self.run_id} timed out: {exc}"
        else:
            message = f"run {self.run_id} failed: {type(exc).__name__}: {exc}"
        err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
        kept = "" if self.in_memory() else "its committed steps are kept; after a fix, "
        err.print(f"  {kept}{self.continue_hint()}", markup=False, soft_wrap=True)
        return EXIT_FAILED


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):
        return False
