"""The public API is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import inspect

import blazen

EXPECTED = {
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
}


def test_all_is_pinned() -> None:
    assert set(blazen.__all__) == EXPECTED


def test_all_is_sorted_and_unique() -> None:
    assert blazen.__all__ == sorted(set(blazen.__all__))


def test_every_exported_name_exists() -> None:
    for name in blazen.__all__:
        assert getattr(blazen, name) is not None, name


def test_public_classes_and_functions_have_readable_source() -> None:
    # Each public class keeps the module it is defined in, so tools find its source.
    for name in blazen.__all__:
        obj = getattr(blazen, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
            assert obj.__module__.startswith("blazen."), name
            source = inspect.getsource(obj)
            assert name in source, name


def test_errors_derive_from_workflow_error() -> None:
    for name in blazen.__all__:
        obj = getattr(blazen, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, blazen.WorkflowError), name


def test_version() -> None:
    assert isinstance(blazen.__version__, str)
