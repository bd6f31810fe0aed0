"""``WorkflowBuilder``: ``Workflow.builder(name).step(a).step(b).timeout(60).build()``.

The fluent form of ``Workflow(...)`` from the Rust-core package. Each method returns the
builder; ``build()`` makes a new ``Workflow`` each time it is called. As there, the default
run timeout is 300 seconds, and ``step_timeout`` sets the timeout of every step that has
none of its own (the last value given wins, whatever the order of the calls).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from blazen.errors import WorkflowValidationError
from blazen.session_policy import SessionPausePolicy
from blazen.step import StepSpec, StepTypeError, get_step_spec
from blazen.usage import RetryConfig

if TYPE_CHECKING:
    from blazen.stores.base import CheckpointStore

__all__ = ["WorkflowBuilder", "register_workflow_class"]

_workflow_class: Callable[..., Any] | None = None


def register_workflow_class(cls: Callable[..., Any]) -> None:
    """Called by ``blazen.workflow`` (which builds on this module, not the reverse)."""
    global _workflow_class
    _workflow_class = cls


DEFAULT_TIMEOUT = 300.0


class WorkflowBuilder:
    """Collects a workflow's steps and options; ``build()`` returns the ``Workflow``."""

    __slots__ = (
        "_auto_publish",
        "_checkpoint_after_step",
        "_name",
        "_policy",
        "_retry",
        "_retry_set",
        "_step_timeout",
        "_steps",
        "_store",
        "_timeout",
    )

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a workflow name must be a str, not {type(name).__name__}")
        self._name = name
        self._steps: list[StepSpec] = []
        self._timeout: float | None = DEFAULT_TIMEOUT
        self._step_timeout: float | None = None
        self._policy: SessionPausePolicy | None = None
        self._auto_publish: bool | None = None
        self._retry: RetryConfig | None = None
        self._retry_set = False
        self._store: CheckpointStore | str | None = None
        self._checkpoint_after_step = True

    @property
    def name(self) -> str:
        """The name the workflow will have."""
        return self._name

    def step(self, registration: object) -> WorkflowBuilder:
        """Add a step (a function decorated with ``@step``)."""
        spec = registration if isinstance(registration, StepSpec) else None
        spec = spec or get_step_spec(registration)
        if spec is None:
            raise StepTypeError(
                f"workflow {self._name!r}: {registration!r} is not a step (decorate it with @step)"
            )
        self._steps.append(spec)
        return self

    def timeout(self, seconds: float) -> WorkflowBuilder:
        """Limit the whole run to ``seconds`` (checked by ``build()``: a number > 0)."""
        self._timeout = _seconds("timeout", seconds)
        return self

    def no_timeout(self) -> WorkflowBuilder:
        """Let runs take as long as they need."""
        self._timeout = None
        return self

    def step_timeout(self, seconds: float) -> WorkflowBuilder:
        """Give every step without a timeout of its own this one (seconds > 0)."""
        seconds = _seconds("step_timeout", seconds)
        if seconds <= 0:
            raise WorkflowValidationError(f"step_timeout must be > 0 seconds, got {seconds}")
        self._step_timeout = seconds
        return self

    def no_step_timeout(self) -> WorkflowBuilder:
        """Undo ``step_timeout``: steps keep only their own ``@step(timeout=...)``."""
        self._step_timeout = None
        return self

    def session_pause_policy(self, policy: SessionPausePolicy) -> WorkflowBuilder:
        """What a pause does with ``ctx.session`` values (see ``SessionPausePolicy``)."""
        if not isinstance(policy, SessionPausePolicy):
            raise TypeError(f"policy must be a SessionPausePolicy, not {type(policy).__name__}")
        self._policy = policy
        return self

    def auto_publish_events(self, enabled: bool) -> WorkflowBuilder:
        """Passed on as ``Workflow(auto_publish_events=...)``."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
        self._auto_publish = enabled
        return self

    def retry_config(self, config: RetryConfig) -> WorkflowBuilder:
        """The workflow's ``RetryConfig`` (for LLM calls; steps retry by ``@step(retries=)``)."""
        if not isinstance(config, RetryConfig):
            raise TypeError(f"config must be a RetryConfig, not {type(config).__name__}")
        self._retry, self._retry_set = config, True
        return self

    def no_retry(self) -> WorkflowBuilder:
        """A ``RetryConfig`` of zero retries."""
        return self.retry_config(RetryConfig(max_retries=0))

    def clear_retry_config(self) -> WorkflowBuilder:
        """No workflow-level ``RetryConfig``."""
        self._retry, self._retry_set = None, False
        return self

    def checkpoint_store(self, store: CheckpointStore | str | None) -> WorkflowBuilder:
        """Make runs durable: ``Workflow(store=...)`` (a ``CheckpointStore`` or a store URL)."""
        self._store = store
        return self

    def checkpoint_after_step(self, enabled: bool) -> WorkflowBuilder:
        """With a store, blazen always commits after every step; ``False`` is refused then."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
        self._checkpoint_after_step = enabled
        return self

    def build(self) -> Any:
        """A new ``Workflow`` from the steps and options given so far."""
        if _workflow_class is None:  # pragma: no cover - blazen.workflow registers itself
            raise WorkflowValidationError("blazen.workflow is not loaded")
        if not self._steps:
            raise WorkflowValidationError(
                f"workflow {self._name!r} must have at least one step (call .step(...))"
            )
        if self._store is not None and not self._checkpoint_after_step:
            raise WorkflowValidationError(
                f"workflow {self._name!r}: a durable blazen run commits after every step; "
                f"checkpoint_after_step(False) cannot be honoured with a checkpoint store"
            )
        options: dict[str, Any] = {"timeout": self._timeout, "store": self._store}
        if self._policy is not None:
            options["session_pause_policy"] = self._policy
        if self._auto_publish is not None:
            options["auto_publish_events"] = self._auto_publish
        if self._retry_set:
            options["retry_config"] = self._retry
        return _workflow_class(self._name, self._specs(), **options)

    def _specs(self) -> list[StepSpec]:
        if self._step_timeout is None:
            return list(self._steps)
        return [
            s if s.timeout is not None else dataclasses.replace(s, timeout=self._step_timeout)
            for s in self._steps
        ]

    def __repr__(self) -> str:
        timeout = "None" if self._timeout is None else f"Some({self._timeout!r})"
        name = json.dumps(self._name)
        return f"WorkflowBuilder(name={name}, steps={len(self._steps)}, timeout={timeout})"


def _seconds(option: str, value: Any) -> float:
    """A duration in seconds: a finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{option} must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise WorkflowValidationError(f"{option} must be a finite number of seconds")
    return seconds
