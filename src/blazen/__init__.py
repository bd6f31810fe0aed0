"""blazen: a pure-Python, asyncio, event-driven workflow engine.

Steps receive the events their ``ev`` annotation names and return new ones; a run
starts with a ``StartEvent`` and ends at the first ``StopEvent``. Every step of a run
shares one ``Context``; runs can be paused to a ``WorkflowSnapshot`` and, with a
checkpoint store, survive the death of their process.
"""

from __future__ import annotations

from blazen.builder import WorkflowBuilder as WorkflowBuilder
from blazen.context import Context as Context
from blazen.errors import ContextError as ContextError
from blazen.errors import LeaseLostError as LeaseLostError
from blazen.errors import PauseError as PauseError
from blazen.errors import RunAbortedError as RunAbortedError
from blazen.errors import RunStalledError as RunStalledError
from blazen.errors import SessionPauseError as SessionPauseError
from blazen.errors import SnapshotError as SnapshotError
from blazen.errors import StartEventError as StartEventError
from blazen.errors import StepError as StepError
from blazen.errors import StepTimeoutError as StepTimeoutError
from blazen.errors import StoreConflictError as StoreConflictError
from blazen.errors import StoreError as StoreError
from blazen.errors import UnroutableEventError as UnroutableEventError
from blazen.errors import WorkflowError as WorkflowError
from blazen.errors import WorkflowTimeoutError as WorkflowTimeoutError
from blazen.errors import WorkflowValidationError as WorkflowValidationError
from blazen.events import Event as Event
from blazen.events import InputRequestEvent as InputRequestEvent
from blazen.events import InputResponseEvent as InputResponseEvent
from blazen.events import StartEvent as StartEvent
from blazen.events import StepFailedEvent as StepFailedEvent
from blazen.events import StepRetryEvent as StepRetryEvent
from blazen.events import StopEvent as StopEvent
from blazen.handler import WorkflowHandler as WorkflowHandler
from blazen.result import WorkflowResult as WorkflowResult
from blazen.session_policy import SessionPausePolicy as SessionPausePolicy
from blazen.session_refs import RefLifetime as RefLifetime
from blazen.session_refs import RegistryKey as RegistryKey
from blazen.session_refs import RemoteRefDescriptor as RemoteRefDescriptor
from blazen.session_refs import SessionRefRegistry as SessionRefRegistry
from blazen.snapshot import SerializedEvent as SerializedEvent
from blazen.snapshot import WorkflowSnapshot as WorkflowSnapshot
from blazen.state import BlazenState as BlazenState
from blazen.state import CallbackFieldStore as CallbackFieldStore
from blazen.state import FieldStore as FieldStore
from blazen.step import step as step
from blazen.stores.base import CheckpointStore as CheckpointStore
from blazen.usage import RetryConfig as RetryConfig
from blazen.usage import TokenUsage as TokenUsage
from blazen.values import StateValue as StateValue
from blazen.workflow import Workflow as Workflow

__version__ = "0.1.0"

__all__ = [
    "BlazenState",
    "CallbackFieldStore",
    "CheckpointStore",
    "Context",
    "ContextError",
    "Event",
    "FieldStore",
    "InputRequestEvent",
    "InputResponseEvent",
    "LeaseLostError",
    "PauseError",
    "RefLifetime",
    "RegistryKey",
    "RemoteRefDescriptor",
    "RetryConfig",
    "RunAbortedError",
    "RunStalledError",
    "SerializedEvent",
    "SessionPauseError",
    "SessionPausePolicy",
    "SessionRefRegistry",
    "SnapshotError",
    "StartEvent",
    "StartEventError",
    "StateValue",
    "StepError",
    "StepFailedEvent",
    "StepRetryEvent",
    "StepTimeoutError",
    "StopEvent",
    "StoreConflictError",
    "StoreError",
    "TokenUsage",
    "UnroutableEventError",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowError",
    "WorkflowHandler",
    "WorkflowResult",
    "WorkflowSnapshot",
    "WorkflowTimeoutError",
    "WorkflowValidationError",
    "step",
]
