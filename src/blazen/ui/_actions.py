"""What the run page's buttons do: answer an input request, cancel, resume, fork.

The viewer does not load workflow code, so it cannot run steps itself: every action is a
change in the store that a process running the workflow (a worker) acts on. ``RunActions``
is the interface the web app calls; ``StoreActions`` implements it on a ``CheckpointStore``:

- ``fork`` copies the state at a commit into a new run, through the protocol methods every
  store has; the new run is ``paused`` (and unowned) until a worker or ``blazen runs
  resume`` takes it.
- ``respond``, ``cancel`` and ``resume`` use the store operations that reach a run owned by
  another process (the ``RunControl`` methods below, which every blazen store has: see
  docs/workers.md). A third-party store without them answers ``ActionUnavailable`` (HTTP
  501) naming the missing operation.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from blazen._meta import WAITING_STATE_KEY
from blazen.errors import StoreConflictError, StoreError, WorkflowError
from blazen.stores.base import FINISHED, CheckpointStore

__all__ = [
    "ActionError",
    "ActionUnavailable",
    "RunActions",
    "RunControl",
    "StoreActions",
]


class ActionError(WorkflowError):
    """An action that cannot be done; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class ActionUnavailable(ActionError):
    """The store lacks the operation an action needs (HTTP 501)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 501)


class RunActions(Protocol):
    """The actions of the run page; each raises ``ActionError`` when it cannot be done."""

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        """Answer the input request ``request_id`` the run waits on."""
        ...

    async def cancel(self, run_id: str) -> None:
        """Stop the run (it ends ``cancelled``)."""
        ...

    async def resume(self, run_id: str) -> None:
        """Have the run continued from its last commit by a worker."""
        ...

    async def fork(self, run_id: str, seq: int) -> str:
        """A new run from the state after commit ``seq``; returns its id."""
        ...


@runtime_checkable
class RunControl(Protocol):
    """Store operations that act on a run whichever process owns it (see issue 11)."""

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        """Record the answer; the run becomes claimable by any worker."""
        ...

    async def cancel(self, run_id: str) -> None:
        """Cancel the run: at once if no process owns it, else its owner stops it."""
        ...

    async def requeue(self, run_id: str) -> None:
        """Queue an unfinished (or failed) run so that a worker continues it."""
        ...


class StoreActions:
    """``RunActions`` on a ``CheckpointStore`` (see the module docstring)."""

    def __init__(self, store: CheckpointStore) -> None:
        self.store = store

    def _control(self, action: str, operation: str) -> RunControl:
        if not isinstance(self.store, RunControl):
            raise ActionUnavailable(
                f"{action} needs the store operation {operation}, which "
                f"{type(self.store).__name__} does not provide yet; use the CLI or the "
                f"workflow's own process instead"
            )
        return self.store

    async def _unfinished(self, run_id: str, action: str) -> None:
        record = await self.store.get_run(run_id)
        if record.status in FINISHED:
            raise ActionError(f"cannot {action} run {run_id}: it is already {record.status}")

    async def respond(self, run_id: str, request_id: str, response: Any) -> None:
        control = self._control(
            "answering an input request", "respond(run_id, request_id, response)"
        )
        await self._unfinished(run_id, "answer")
        with _conflicts():
            await control.respond(run_id, request_id, response)

    async def cancel(self, run_id: str) -> None:
        control = self._control("cancel", "cancel(run_id)")
        await self._unfinished(run_id, "cancel")
        with _conflicts():
            await control.cancel(run_id)

    async def resume(self, run_id: str) -> None:
        control = self._control("resume", "requeue(run_id)")
        record = await self.store.get_run(run_id)
        if record.status in ("completed", "cancelled"):
            raise ActionError(
                f"cannot resume run {run_id}: it is already {record.status} (fork it instead)"
            )
        with _conflicts():
            await control.requeue(run_id)

    async def fork(self, run_id: str, seq: int) -> str:
        loaded = await self.store.load(run_id, seq)
        if not loaded.pending and WAITING_STATE_KEY not in loaded.context_state:
            raise ActionError(
                f"run {run_id} has nothing left to run after commit {seq} (no pending event, "
                f"no awaited input): fork from an earlier commit"
            )
        new_id = str(uuid.uuid4())
        meta = {
            k: v
            for k, v in loaded.record.metadata.items()
            if k not in ("forked_from", "resumed_from")
        }
        meta["forked_from"] = {"run_id": run_id, "seq": loaded.seq}
        try:
            await self.store.create_run(
                new_id,
                loaded.record.workflow_name,
                owner=None,  # nobody runs it yet: any process may claim it
                context_state=loaded.context_state,
                pending=loaded.pending,
                collected=loaded.collected,
                metadata=meta,
                status="paused",
            )
        except StoreError as exc:
            raise ActionError(f"could not fork run {run_id}: {exc}", 500) from exc
        return new_id


@contextlib.contextmanager
def _conflicts() -> Iterator[None]:
    """A refusal by the store (the run's state does not allow it) is an HTTP 409."""
    try:
        yield
    except StoreConflictError as exc:
        raise ActionError(str(exc)) from exc
