"""``Workflow``: a validated set of steps that can be run, resumed and recovered."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from blazen._graph import build_graph
from blazen._runtime.run import Run
from blazen._runtime.types import RunOptions
from blazen.errors import WorkflowError, WorkflowValidationError
from blazen.events import StartEvent
from blazen.handler import WorkflowHandler

if TYPE_CHECKING:
    from blazen.snapshot import WorkflowSnapshot
    from blazen.stores.base import CheckpointStore

__all__ = ["SessionPausePolicy", "Workflow"]

SessionPausePolicy = Literal["pickle_or_error", "warn_drop", "hard_error"]
_POLICIES = ("pickle_or_error", "warn_drop", "hard_error")
_by_name: weakref.WeakValueDictionary[str, Workflow] = weakref.WeakValueDictionary()


class _Resume:
    """``Workflow.resume(snapshot, steps=None)`` on the class, ``wf.resume(snapshot)`` on one."""

    def __get__(self, obj: Workflow | None, cls: type[Workflow]) -> Any:
        async def resume(snapshot: Any, steps: Sequence[object] | None = None) -> WorkflowHandler:
            from blazen._runtime.persist import load_snapshot, resume_snapshot

            snap = load_snapshot(snapshot)
            wf = obj
            if wf is None:
                wf = cls(snap.workflow_name, steps) if steps is not None else _find(snap)
            elif snap.workflow_name != wf.name:
                raise WorkflowError(
                    f"snapshot is of workflow {snap.workflow_name!r}, not {wf.name!r}"
                )
            return await resume_snapshot(wf, snap)

        return resume


def _find(snapshot: WorkflowSnapshot) -> Workflow:
    wf = _by_name.get(snapshot.workflow_name)
    if wf is None:
        raise WorkflowError(
            f"no workflow named {snapshot.workflow_name!r} was built in this process; "
            f"pass steps=[...] to Workflow.resume or call wf.resume(snapshot)"
        )
    return wf


class Workflow:
    """A named set of steps. ``handler = await wf.run(**kwargs)`` starts a run.

    ``store=`` (a ``CheckpointStore`` or a store URL such as ``"sqlite:///runs.db"``) makes
    runs durable: every step is committed, and ``resume_run``/``recover`` continue a run
    whose process died.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[object],
        *,
        timeout: float | None = None,
        session_pause_policy: SessionPausePolicy = "pickle_or_error",
        store: CheckpointStore | str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise WorkflowValidationError("a workflow needs a non-empty str name")
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < float("inf")
        ):
            raise WorkflowValidationError(
                f"workflow {name!r}: timeout must be a number of seconds > 0 (or None), "
                f"not {timeout!r}"
            )
        if session_pause_policy not in _POLICIES:
            raise WorkflowValidationError(
                f"workflow {name!r}: session_pause_policy must be one of {_POLICIES}, "
                f"not {session_pause_policy!r}"
            )
        self.name = name
        self.steps = list(steps)
        self.timeout = timeout
        self.session_pause_policy: SessionPausePolicy = session_pause_policy
        self.graph = build_graph(name, self.steps)
        self._store_arg = store
        self._store: CheckpointStore | None = None
        self._options = RunOptions(name, self.graph, timeout, session_pause_policy)
        _by_name[name] = self

    @property
    def store(self) -> CheckpointStore | None:
        """The checkpoint store (opened on first use when given as a URL), or ``None``."""
        if self._store is None and self._store_arg is not None:
            if isinstance(self._store_arg, str):
                from blazen.stores.base import open_store

                self._store = open_store(self._store_arg)
            else:
                self._store = self._store_arg
        return self._store

    async def run(self, **kwargs: Any) -> WorkflowHandler:
        """Start a run with ``StartEvent(**kwargs)``; returns its handler at once."""
        run = Run(self._options, str(uuid.uuid4()))
        start = StartEvent(**kwargs)
        store = self.store
        if store is not None:
            from blazen._runtime.durable import start_durable

            await start_durable(run, store, start)
        else:
            run.route(start, None)
        run.start()
        return WorkflowHandler(run)

    run_with_handler = run

    resume = _Resume()

    async def resume_run(self, run_id: str) -> WorkflowHandler:
        """Continue a durable run from its last commit (e.g. after its process died)."""
        from blazen._runtime.durable import resume_durable

        return WorkflowHandler(await resume_durable(self, self._require_store(), run_id))

    async def recover(self) -> list[WorkflowHandler]:
        """Resume every unfinished run of this workflow found in the store."""
        store = self._require_store()
        run_ids: dict[str, None] = {}
        for status in ("running", "paused", "waiting"):
            for record in await store.list_runs(
                workflow_name=self.name, status=status, limit=1_000_000
            ):
                run_ids[record.run_id] = None
        return [await self.resume_run(run_id) for run_id in run_ids]

    async def fork_run(self, run_id: str, seq: int | None = None) -> WorkflowHandler:
        """Start a new run from the state of ``run_id`` after commit ``seq``."""
        from blazen._runtime.durable import fork_durable

        return WorkflowHandler(await fork_durable(self, self._require_store(), run_id, seq))

    def draw(self, format: Literal["mermaid", "dot"] = "mermaid") -> str:
        """The graph of steps and event types as Mermaid or Graphviz DOT text."""
        from blazen.draw import describe, render

        return render(describe(self.graph, name=self.name), format)

    def _require_store(self) -> CheckpointStore:
        store = self.store
        if store is None:
            raise WorkflowError(f"workflow {self.name!r} has no store= (durable runs need one)")
        return store

    def _new_run(self, run_id: str) -> Run:
        return Run(self._options, run_id)

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} steps={list(self.graph.steps)}>"
