"""Step specs to routing table, with the graph checks made when a ``Workflow`` is built."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from blazen.errors import WorkflowValidationError
from blazen.events import (
    Event,
    InputRequestEvent,
    InputResponseEvent,
    StartEvent,
    StepFailedEvent,
    StopEvent,
)
from blazen.step import StepSpec, StepTypeError, get_step_spec

__all__ = ["Graph", "build_graph"]

# Event types the engine itself handles, so no step needs to accept them.
_ENGINE_TYPES = frozenset({StopEvent.event_type, InputRequestEvent.event_type})
_BUILTIN: dict[str, type[Event]] = {
    c.event_type: c
    for c in (StartEvent, StopEvent, InputRequestEvent, InputResponseEvent, StepFailedEvent)
}


@dataclass(frozen=True, slots=True)
class Graph:
    """Validated steps: by name, by accepted event type, and the known event classes."""

    steps: dict[str, StepSpec]
    routes: dict[str, tuple[StepSpec, ...]]
    classes: dict[str, type[Event]]
    start_class: type[StartEvent] = StartEvent
    """The ``StartEvent`` subclass the start steps annotate (``StartEvent`` itself if none):
    a run's keyword arguments are validated against it and delivered as one."""

    @property
    def handles_failures(self) -> bool:
        """Whether a step accepts ``StepFailedEvent`` (a failing step then does not end the run)."""
        return StepFailedEvent.event_type in self.routes

    def fingerprint(self) -> dict[str, list[str]]:
        """Step name -> accepted types; stored with durable runs to detect changed code."""
        return {name: sorted(spec.accepts) for name, spec in sorted(self.steps.items())}


def build_graph(workflow_name: str, steps: Iterable[object]) -> Graph:
    """Check the steps and build the routing table; raise ``WorkflowValidationError``."""
    specs = _specs(workflow_name, steps)
    routes: dict[str, list[StepSpec]] = {}
    for spec in specs.values():
        for name in spec.accepts:
            routes.setdefault(name, []).append(spec)
    classes = _classes(workflow_name, specs.values())
    if StartEvent.event_type not in routes:
        raise WorkflowValidationError(
            f"workflow {workflow_name!r}: no step accepts StartEvent "
            f"(annotate one step's ev with StartEvent or Event)"
        )
    for spec in specs.values():
        if InputRequestEvent.event_type in (spec.emits or ()) and (
            InputResponseEvent.event_type not in routes
        ):
            raise WorkflowValidationError(
                f"workflow {workflow_name!r}: step {spec.name!r} returns InputRequestEvent "
                f"but no step accepts InputResponseEvent"
            )
        for name in spec.emits or ():
            if name not in routes and name not in _ENGINE_TYPES:
                raise WorkflowValidationError(
                    f"workflow {workflow_name!r}: step {spec.name!r} emits {name!r} "
                    f"but no step accepts it"
                )
    start_class = _start_class(workflow_name, specs.values())
    if start_class is not StartEvent:
        classes[StartEvent.event_type] = start_class  # snapshots decode it as that class too
    return Graph(specs, {k: tuple(v) for k, v in routes.items()}, classes, start_class)


def _specs(workflow_name: str, steps: Iterable[object]) -> dict[str, StepSpec]:
    specs: dict[str, StepSpec] = {}
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
        raise WorkflowValidationError(f"workflow {workflow_name!r}: steps must be a list")
    for obj in steps:
        spec = obj if isinstance(obj, StepSpec) else get_step_spec(obj)
        if spec is None:
            raise StepTypeError(
                f"workflow {workflow_name!r}: {obj!r} is not a step (decorate it with @step)"
            )
        if spec.name in specs and specs[spec.name].fn is not spec.fn:
            raise WorkflowValidationError(
                f"workflow {workflow_name!r}: two steps are named {spec.name!r}"
            )
        specs[spec.name] = spec
    if not specs:
        raise WorkflowValidationError(f"workflow {workflow_name!r} has no steps")
    return specs


def _start_class(workflow_name: str, specs: Iterable[StepSpec]) -> type[StartEvent]:
    """The one ``StartEvent`` subclass the steps annotate, if any (two differing is an error)."""
    found: type[StartEvent] = StartEvent
    for spec in specs:
        for cls in spec.event_classes:
            if cls is StartEvent or not issubclass(cls, StartEvent) or cls is found:
                continue
            if found is not StartEvent and not issubclass(cls, found):
                if issubclass(found, cls):
                    continue
                raise WorkflowValidationError(
                    f"workflow {workflow_name!r}: steps annotate two different StartEvent "
                    f"classes ({_where(found)} and {_where(cls)}); a run starts with one"
                )
            found = cls
    return found


def _classes(workflow_name: str, specs: Iterable[StepSpec]) -> dict[str, type[Event]]:
    """Event type name -> class; two different classes with one name is an error."""
    classes = dict(_BUILTIN)
    for spec in specs:
        for cls in spec.event_classes:
            known = classes.get(cls.event_type)
            if known is not None and known in _BUILTIN.values() and issubclass(cls, known):
                continue  # a custom StopEvent (etc.) is routed as the engine's own
            if known is not None and known is not cls:
                raise WorkflowValidationError(
                    f"workflow {workflow_name!r}: event type {cls.event_type!r} is defined "
                    f"twice ({_where(known)} and {_where(cls)})"
                )
            classes[cls.event_type] = cls
    return classes


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
