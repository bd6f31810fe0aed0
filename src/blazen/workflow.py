"""``Workflow``: a validated set of steps that can be run, resumed and recovered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pydantic

from blazen._graph import build_graph
from blazen._ids import new_run_id
from blazen._meta import TRACE_KEY
from blazen._runtime.claims import (
    adopt_snapshot,
    fork_durable,
    recover_runs,
    resume_durable,
    start_durable,
    submit_run,
)
from blazen._runtime.outcome import stored_outcome
from blazen._runtime.persist import restore_run
from blazen._runtime.run import Run
from blazen._runtime.types import RunOptions
from blazen.builder import WorkflowBuilder, register_workflow_class
from blazen.draw import describe, render
from blazen.errors import (
    SnapshotError,
    StartEventError,
    WorkflowError,
    WorkflowValidationError,
)
from blazen.events import StartEvent
from blazen.handler import WorkflowHandler
from blazen.result import WorkflowResult
from blazen.session_policy import SessionPausePolicy, normalize_policy
from blazen.session_refs import SERIALIZED_REFS_KEY
from blazen.snapshot import WorkflowSnapshot
from blazen.stores.base import DEFAULT_LEASE, CheckpointStore, open_store
from blazen.usage import RetryConfig

__all__ = ["Workflow"]

_by_name: dict[str, Workflow] = {}
"""The last workflow constructed under each name, for ``Workflow.resume`` without steps."""


class _Resume:
    """``Workflow.resume(snapshot, steps=None, timeout=None)`` on the class, ``wf.resume(...)``
    on one workflow; ``with_refs`` also rebuilds the snapshot's serialized session refs."""

    def __init__(self, with_refs: bool = False) -> None:
        self.with_refs = with_refs

    def __get__(self, obj: Workflow | None, cls: type[Workflow]) -> Any:
        with_refs = self.with_refs

        async def resume(
            snapshot: Any, steps: Sequence[object] | None = None, timeout: float | None = None
        ) -> WorkflowHandler:
            snap = WorkflowSnapshot.load(snapshot)
            wf = obj
            if wf is None:
                wf = cls(snap.workflow_name, steps) if steps is not None else _find(snap)
            elif snap.workflow_name != wf.name:
                raise WorkflowError(
                    f"snapshot is of workflow {snap.workflow_name!r}, not {wf.name!r}"
                )
            return await wf._resume_snapshot(snap, timeout, with_refs)

        return resume


def _find(snapshot: WorkflowSnapshot) -> Workflow:
    wf = _by_name.get(snapshot.workflow_name)
    if wf is None:
        raise WorkflowError(
            f"no workflow named {snapshot.workflow_name!r} was built in this process; "
            f"pass steps=[...] to Workflow.resume or call wf.resume(snapshot)"
        )
    return wf


def _check_timeout(name: str, timeout: object) -> float | None:
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < float("inf")
    ):
        raise WorkflowValidationError(
            f"workflow {name!r}: timeout must be a number of seconds > 0 (or None), not {timeout!r}"
        )
    return None if timeout is None else float(timeout)


def _check_lease(name: str, lease: object) -> float:
    if (
        isinstance(lease, bool)
        or not isinstance(lease, (int, float))
        or not 0 < lease < float("inf")
    ):
        raise WorkflowValidationError(
            f"workflow {name!r}: lease must be a number of seconds > 0, not {lease!r}"
        )
    return float(lease)


class Workflow:
    """A named set of steps. ``result = await wf.run(**kwargs)`` runs it to the end;
    ``handler = await wf.run_with_handler(**kwargs)`` starts it and returns at once.

    ``store=`` (a ``CheckpointStore`` or a store URL such as ``"sqlite:///runs.db"``) makes
    runs durable: every step is committed, and ``resume_run``/``recover`` continue a run
    whose process died. A process holds a durable run under a lease of ``lease`` seconds,
    renewed in the background; ``submit`` queues a run for ``blazen worker`` processes and
    ``wait`` gives the result of a run executed anywhere (see docs/workers.md).
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[object],
        timeout: float | None = None,
        session_pause_policy: SessionPausePolicy | str | None = None,
        auto_publish_events: bool | None = None,
        retry_config: RetryConfig | None = None,
        *,
        store: CheckpointStore | str | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise WorkflowValidationError("a workflow needs a non-empty str name")
        policy = normalize_policy(session_pause_policy)
        if auto_publish_events is not None and not isinstance(auto_publish_events, bool):
            raise TypeError(
                f"workflow {name!r}: auto_publish_events must be a bool or None, "
                f"not {type(auto_publish_events).__name__}"
            )
        if retry_config is not None and not isinstance(retry_config, RetryConfig):
            raise TypeError(
                f"workflow {name!r}: retry_config must be a RetryConfig or None, "
                f"not {type(retry_config).__name__}"
            )
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
            raise WorkflowValidationError(
                f"workflow {name!r}: steps must be a list of @step functions, "
                f"not {type(steps).__name__}"
            )
        self.name = name
        self.steps = list(steps)
        self.timeout = _check_timeout(name, timeout)
        self.session_pause_policy = policy
        self.auto_publish_events = bool(auto_publish_events)
        self.retry_config = retry_config  # configures LLM calls upstream; kept, not applied
        self.graph = build_graph(name, self.steps)
        self.lease = _check_lease(name, lease)
        self._store_arg = store
        self._store: CheckpointStore | None = None
        self._options = RunOptions(name, self.graph, self.timeout, policy, self.auto_publish_events)
        _by_name[name] = self

    @property
    def store(self) -> CheckpointStore | None:
        """The checkpoint store (opened on first use when given as a URL), or ``None``."""
        if self._store is None and self._store_arg is not None:
            if isinstance(self._store_arg, str):
                self._store = open_store(self._store_arg)
            else:
                self._store = self._store_arg
        return self._store

    async def run(self, **kwargs: Any) -> WorkflowResult:
        """Run to the end with ``StartEvent(**kwargs)``; the run's error is raised."""
        handler = await self.run_with_handler(**kwargs)
        return await handler.result()

    async def run_with_handler(self, **kwargs: Any) -> WorkflowHandler:
        """Start a run with ``StartEvent(**kwargs)``; returns its handler at once."""
        run = Run(self._options, new_run_id())
        start = self._start_event(kwargs)
        store = self.store
        if store is not None:
            await start_durable(run, store, start, self.lease)
        else:
            run.route(start, None)
        run.start()
        return WorkflowHandler(run)

    async def submit(self, **kwargs: Any) -> str:
        """Store a queued run with ``StartEvent(**kwargs)`` without running it; its id.

        A ``blazen worker`` process (or ``recover()``) claims and runs it; ``wait(run_id)``
        gives its result.
        """
        run_id = new_run_id()
        start = self._start_event(kwargs)
        await submit_run(self._options, self._require_store(), start, run_id)
        return run_id

    async def wait(self, run_id: str, timeout: float | None = None) -> WorkflowResult:
        """The result of the stored run ``run_id`` once it ends, wherever it runs.

        A failed run raises ``WorkflowError`` with its stored error, a cancelled one
        ``RunAbortedError``; ``WorkflowTimeoutError`` after ``timeout`` seconds.
        """
        return WorkflowResult(await stored_outcome(self._require_store(), run_id, timeout))

    def _start_event(self, kwargs: dict[str, Any]) -> StartEvent:
        """The run's ``StartEvent``, of the class the start steps annotate, checked.

        A value JSON cannot hold is a ``TypeError``, as in the Rust-core package.
        """
        cls = self.graph.start_class
        try:
            return cls(**kwargs)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors()
            )
            raise StartEventError(
                f"workflow {self.name!r}: the run's arguments do not fit {cls.__name__}: {problems}"
            ) from exc

    resume = _Resume()

    @staticmethod
    def builder(name: str) -> WorkflowBuilder:
        """A fluent builder: ``Workflow.builder("w").step(a).step(b).timeout(60).build()``."""
        return WorkflowBuilder(name)

    resume_with_session_refs = _Resume(with_refs=True)
    """``Workflow.resume`` that also rebuilds the session refs a snapshot serialized
    (``SessionPausePolicy.PickleOrSerialize``) into the resumed run's registry."""

    async def _resume_snapshot(
        self, snapshot: WorkflowSnapshot, timeout: float | None, with_refs: bool = False
    ) -> WorkflowHandler:
        options = self._options
        if timeout is not None:
            limit = _check_timeout(self.name, timeout)
            options = RunOptions(
                self.name, self.graph, limit, options.session_pause_policy, options.auto_publish
            )
        trace = snapshot.metadata.get(TRACE_KEY)
        run = Run(
            options, snapshot.run_id, trace if isinstance(trace, dict) else None, resumed=True
        )
        refs = snapshot.metadata.get(SERIALIZED_REFS_KEY) if with_refs else None
        if refs:
            run.session_refs.restore_refs(refs)
        store = self.store
        try:
            if store is not None:
                await adopt_snapshot(run, store, snapshot, self.lease)
            else:
                restore_run(run, snapshot)
        except WorkflowError:
            raise
        except Exception as exc:  # malformed data that loaded but cannot be used
            raise SnapshotError(
                f"snapshot of run {snapshot.run_id} cannot be resumed: {type(exc).__name__}: {exc}"
            ) from exc
        run.start()
        return WorkflowHandler(run)

    async def resume_run(self, run_id: str) -> WorkflowHandler:
        """Continue a durable run from its last commit (e.g. after its process died).

        The run is claimed atomically: a finished run (a failed one may be retried) or a run
        that a live process holds is refused with ``StoreConflictError``.
        """
        run = await resume_durable(self._options, self._require_store(), run_id, self.lease)
        run.start()
        return WorkflowHandler(run)

    async def recover(self) -> list[WorkflowHandler]:
        """Claim and continue every unfinished run of this workflow that no process holds.

        Any number of processes may call it at once: each run is claimed by one of them.
        Runs that are finished or owned by a live process (also meanwhile) are skipped; the
        handlers of the runs this call got are returned.
        """
        runs = await recover_runs(self._options, self._require_store(), self.lease)
        for run in runs:
            run.start()
        return [WorkflowHandler(run) for run in runs]

    async def fork_run(self, run_id: str, seq: int | None = None) -> WorkflowHandler:
        """Start a new run from the state of ``run_id`` after commit ``seq``."""
        run = await fork_durable(self._options, self._require_store(), run_id, seq, self.lease)
        run.start()
        return WorkflowHandler(run)

    def draw(self, format: Literal["mermaid", "dot"] = "mermaid") -> str:
        """The graph of steps and event types as Mermaid or Graphviz DOT text."""
        return render(describe(self.graph, name=self.name), format)

    def _require_store(self) -> CheckpointStore:
        store = self.store
        if store is None:
            raise WorkflowError(f"workflow {self.name!r} has no store= (durable runs need one)")
        return store

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r} steps={list(self.graph.steps)}>"


register_workflow_class(Workflow)
