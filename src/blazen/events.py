"""Events: typed pydantic models routed between steps by their ``event_type`` name."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from blazen._admit import admit_values

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Event",
    "InputRequestEvent",
    "InputResponseEvent",
    "StartEvent",
    "StepFailedEvent",
    "StepRetryEvent",
    "StopEvent",
    "inline_event_class",
]


class Event(BaseModel):
    """Base of all events. Subclass it with annotated fields, or build one inline.

    ``class Analyze(Event): text: str`` has ``event_type == "Analyze"``;
    ``Event("Analyze", text="hi")`` builds a one-off event of that type.
    """

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)
    event_type: ClassVar[str] = "Event"
    _scalar_fields: ClassVar[bool] = False  # every declared field is a JSON scalar type

    def __init__(self, _inline_type: str | None = None, /, **data: Any) -> None:
        if _inline_type is None and type(self) is Event and "event_type" in data:
            _inline_type = data.pop("event_type")  # Event(event_type="Name", ...), as upstream
        if _inline_type is not None:
            if type(self) is not Event:
                raise TypeError(f"{type(self).__name__} takes keyword fields only")
            # Event("Name", ...): the same fields, typed as that name's class.
            cls = _named.get(_inline_type) if type(_inline_type) is str else None
            object.__setattr__(self, "__class__", cls or _class_named(_inline_type))
        if "event_type" in data and not _trusted.get():  # a stored event may carry one
            raise TypeError(
                f"{type(self).__name__}() got multiple values for 'event_type' (it names the "
                f"event type; it cannot also be a field)"
            )
        # Calling the validator directly (as BaseModel.__init__ does, minus a check we do
        # not need) halves the cost of building an event.
        self.__pydantic_validator__.validate_python(data, self_instance=self)
        if self._scalar_fields and not self.__pydantic_extra__:
            return  # every value is now a str, int, float, bool or None: JSON holds them
        for value in data.values():  # what JSON cannot hold needs a run (see _admit)
            t = type(value)
            if not (t is str or t is int or t is float or t is bool or value is None):
                if not _trusted.get():
                    admit_values(data.values())
                break

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Build an event from already-checked data (a snapshot, a store): values are kept
        as they are, whether or not a run is active."""
        token = _trusted.set(True)
        try:
            return super().model_validate(obj, *args, **kwargs)
        finally:
            _trusted.reset(token)

    if not TYPE_CHECKING:

        def __setattr__(self, name: str, value: Any) -> None:
            if name == "event_type":
                _retype(self, value)
            else:
                super().__setattr__(name, value)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Subclasses of the engine's events keep their type, so a custom StopEvent still
        # ends the run; any other event is named by its class.
        if "event_type" not in cls.__dict__ and not any(
            b.__dict__.get("_keeps_type", False) for b in cls.__mro__
        ):
            cls.event_type = cls.__name__
        cls._scalar_fields = all(_is_scalar(f.annotation) for f in cls.model_fields.values())

    if TYPE_CHECKING:
        # Extra fields are allowed (``StartEvent`` carries the ``run`` kwargs, inline events
        # carry anything): let type checkers accept ``ev.text`` as pydantic does at run time.
        def __getattr__(self, name: str) -> Any: ...

    def to_dict(self) -> dict[str, Any]:
        """The event's fields (declared and extra) as a plain dict."""
        return self.model_dump()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__iter__())
        return f"{self.event_type}({fields})"

    def __str__(self) -> str:
        return self.__repr__()


class _ExtraFirst:
    """An extra field named like a pydantic v1 method (``json``, ``copy``...) wins over it.

    ``wf.run(schema=...)`` must give ``ev.schema``, as in the Rust-core package; the method
    stays reachable on the class and on events without such a field.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.method = BaseModel.__dict__[name]

    def __get__(self, obj: BaseModel | None, cls: type | None = None) -> Any:
        if obj is not None:
            extra = obj.__pydantic_extra__
            if extra and self.name in extra:
                return extra[self.name]
        return self.method.__get__(obj, cls)


for _name in (
    "construct", "copy", "dict", "from_orm", "json", "parse_file", "parse_obj", "parse_raw",
    "schema", "schema_json", "update_forward_refs", "validate",
):  # fmt: skip
    setattr(Event, _name, _ExtraFirst(_name))

_SCALARS = (str, int, float, bool, type(None))


def _is_scalar(annotation: Any) -> bool:
    """Whether a field so annotated holds, once validated, only a str, int, float, bool or
    ``None`` (``int``, ``str | None``, ``Optional[float]``...): no value to admit (_admit)."""
    if annotation in _SCALARS:
        return True
    if get_origin(annotation) in (Union, UnionType):
        return all(arg in _SCALARS for arg in get_args(annotation))
    return False


_inline_lock = threading.Lock()
_inline_classes: dict[str, type[Event]] = {}


_trusted: ContextVar[bool] = ContextVar("blazen_trusted_event_data", default=False)


_named: dict[str, type[Event]] = {}  # filled below: built-in classes, then inline ones


def _class_named(event_type: Any) -> type[Event]:
    """The class ``Event(event_type, ...)`` builds: a built-in event's, or an inline one."""
    if not isinstance(event_type, str):
        raise TypeError(f"an event type name must be a str, not {type(event_type).__name__}")
    cls = _named.get(event_type) or inline_event_class(event_type)
    _named[event_type] = cls
    return cls


def _place_positional(
    owner: str, names: tuple[str, ...], values: tuple[Any, ...], data: dict[str, Any]
) -> None:
    """``InputRequestEvent("r1", "prompt")``: positional arguments fill the leading fields.

    The first field is required, positionally or by name (a ``TypeError`` otherwise).
    """
    if len(values) > len(names):
        raise TypeError(f"{owner} takes at most {len(names)} positional arguments")
    for name, value in zip(names, values, strict=False):
        if name in data:
            raise TypeError(f"{owner}() got multiple values for argument {name!r}")
        if value is not None or name == names[0]:
            data[name] = value
    if names[0] not in data:
        raise TypeError(f"{owner}() missing required argument {names[0]!r}")


def _retype(ev: Event, event_type: Any) -> None:
    """``ev.event_type = "Other"``: the same fields, now an event of that type."""
    cls = _class_named(event_type)
    fields = dict(ev)
    token = _trusted.set(True)
    try:
        fresh = cls.model_validate(fields)
    finally:
        _trusted.reset(token)
    object.__setattr__(ev, "__class__", cls)
    for slot in ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__"):
        object.__setattr__(ev, slot, getattr(fresh, slot))


def inline_event_class(event_type: str) -> type[Event]:
    """The (cached) class behind ``Event(event_type, ...)``: any fields, that type name."""
    if not isinstance(event_type, str):
        raise TypeError(f"an event type name must be a str, not {type(event_type).__name__}")
    if not event_type:
        raise ValueError("an event type name cannot be empty")
    cls = _inline_classes.get(event_type)
    if cls is None:
        with _inline_lock:
            cls = _inline_classes.get(event_type)
            if cls is None:
                namespace = {
                    "event_type": event_type,
                    "__module__": __name__,
                    "__reduce_ex__": _reduce_inline,
                }
                cls = type(event_type, (Event,), namespace)
                _inline_classes[event_type] = cls
    return cls


def _reduce_inline(self: Event, protocol: int) -> str | tuple[Any, ...]:
    # An inline class is made at run time, so pickle cannot import it by name: rebuild the
    # event through the module-level function below instead (any pickle protocol).
    if type(self) is not _inline_classes.get(self.event_type):
        return object.__reduce_ex__(self, protocol)  # a subclass someone defined: by name
    return _rebuild_inline, (self.event_type, dict(self))


def _rebuild_inline(event_type: str, fields: dict[str, Any]) -> Event:
    """Unpickle an inline event: its class for ``event_type``, with the pickled fields."""
    return inline_event_class(event_type).model_validate(fields)


class StartEvent(Event):
    """Starts a run; the keyword arguments of ``wf.run(**kwargs)`` are its attributes."""

    event_type: ClassVar[str] = "blazen::StartEvent"
    _keeps_type: ClassVar[bool] = True


class StopEvent(Event):
    """Ends a run; ``result`` is what ``handler.result()`` hands back."""

    event_type: ClassVar[str] = "blazen::StopEvent"
    _keeps_type: ClassVar[bool] = True
    result: Any = None


class InputRequestEvent(Event):
    """Returned by a step to ask a human (or any caller) for input; the run waits for it.

    ``InputRequestEvent(request_id, prompt=None, metadata=None)``, positionally or by name.
    """

    event_type: ClassVar[str] = "blazen::InputRequestEvent"
    _keeps_type: ClassVar[bool] = True
    _positional: ClassVar[tuple[str, ...]] = ("request_id", "prompt", "metadata")
    request_id: str
    prompt: str = ""
    metadata: dict[str, Any] | None = None

    def __init__(self, *args: Any, **data: Any) -> None:
        _place_positional(type(self).__name__, self._positional, args, data)
        super().__init__(**data)


class InputResponseEvent(Event):
    """Delivered by ``handler.respond_to_input`` to the step that accepts it.

    ``InputResponseEvent(request_id, response)``, positionally or by name.
    """

    event_type: ClassVar[str] = "blazen::InputResponseEvent"
    _keeps_type: ClassVar[bool] = True
    _positional: ClassVar[tuple[str, ...]] = ("request_id", "response")
    request_id: str
    response: Any = None

    def __init__(self, *args: Any, **data: Any) -> None:
        _place_positional(type(self).__name__, self._positional, args, data)
        super().__init__(**data)


class StepFailedEvent(Event):
    """Delivered instead of failing the run when a step fails for good (after its retries).

    Only a workflow with a step that accepts it gets one; otherwise the run fails with the
    step's error, as before. ``input_event`` is the event the failed step was given.
    """

    event_type: ClassVar[str] = "blazen::StepFailedEvent"
    _keeps_type: ClassVar[bool] = True
    step: str
    input_event: Any = None
    error_type: str
    error_message: str
    attempts: int = 1


class StepRetryEvent(Event):
    """Put on the stream when a step's attempt failed and the step will run again."""

    event_type: ClassVar[str] = "blazen::StepRetryEvent"
    _keeps_type: ClassVar[bool] = True
    step: str
    attempt: int
    error_type: str
    error_message: str
    delay: float


_named.update(
    {
        c.event_type: c
        for c in (
            StartEvent,
            StopEvent,
            InputRequestEvent,
            InputResponseEvent,
            StepFailedEvent,
            StepRetryEvent,
        )
    }
)
