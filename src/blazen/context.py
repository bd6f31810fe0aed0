"""``Context``: the key-value store shared by every step of one run.

Values are kept in their storage tier: JSON-compatible data as a private copy, ``bytes``
as is (never copied), picklable objects as ``StateValue.Native`` pickle bytes, and
everything else as a live reference in the session namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import AsyncIterator, Sequence
from typing import Any

from blazen._call import RunPort, current_step
from blazen._collect import collect
from blazen._context_data import ContextData
from blazen._jsoncopy import (
    INT_MAX,
    INT_MIN,
    NotJsonError,
    checked_dict,
    checked_list,
    clone_dict,
    clone_json,
    is_tracked,
)
from blazen._namespaces import SessionNamespace, StateNamespace
from blazen.errors import ContextError, WorkflowError
from blazen.events import Event
from blazen.state import META_SUFFIX, BlazenState
from blazen.values import LIVE as _LIVE
from blazen.values import StateValue, stored_form

__all__ = ["Context", "Edit"]

_NativeValue = StateValue.Native
_JsonValue = StateValue.Json
_BytesValue = StateValue.Bytes
_MISSING: Any = object()


def _unpickle(key: str, data: bytes) -> Any:
    """Rebuild a Native value; a class that is gone is a clear error, not a bare pickle one."""
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise ContextError(
            f"context key {key!r} holds a Native (pickled) value that cannot be rebuilt here: "
            f"{type(exc).__name__}: {exc} (read its bytes with ctx.get_value({key!r}))"
        ) from exc


def _bad_key(key: object) -> ContextError:
    return ContextError(f"context keys must be str, not {type(key).__name__} ({key!r})")


def _default_bytes(key: str, default: Any) -> bytes:
    """``get_bytes``' default as bytes (a list of ints is accepted, as in the Rust core)."""
    try:
        return bytes(default)
    except (TypeError, ValueError) as exc:
        raise ContextError(
            f"get_bytes({key!r}, default): default must be bytes or a list of ints 0..255"
        ) from exc


class Edit:
    """The value being edited in ``ctx.edit_state(key)``: read and assign ``.value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Edit(value={self.value!r})"


class Context(ContextData):
    """One per run. All methods are synchronous; ``aset``/``aget``/... are async aliases."""

    __slots__ = ("_locks", "_state_ns", "session")

    def __init__(self, run_id: str, port: RunPort | None = None) -> None:
        super().__init__(run_id, port)
        self._state_ns: StateNamespace | None = None
        self._locks: dict[str, asyncio.Lock] | None = None
        self.session = SessionNamespace(self._session)

    @property
    def state(self) -> StateNamespace:
        """The persistable namespace: ``ctx.state[k] = v``, ``ctx.state.get(k)``, ``keys()``..."""
        ns = self._state_ns
        if ns is None:  # made on first use: a context that never uses it has no cycle
            ns = self._state_ns = StateNamespace(self)
        return ns

    # -- run identity and routing -------------------------------------------------------
    def run_id(self) -> str:
        """The run's id: a UUID, unique per run and kept across pause and resume."""
        return self._run_id

    def send_event(self, event: Event) -> None:
        """Route ``event`` now, as if the current step had returned it."""
        if not isinstance(event, Event):
            raise ContextError(f"send_event needs an Event, not {type(event).__name__}")
        call = current_step.get()
        if call is None or self._port is None:
            raise WorkflowError("ctx.send_event can only be called from inside a running step")
        self._port.route_from_step(event, call)

    def write_event_to_stream(self, event: Event) -> None:
        """Publish ``event`` to ``handler.stream_events()``; it is not routed to steps."""
        if not isinstance(event, Event):
            raise ContextError(f"write_event_to_stream needs an Event, not {type(event).__name__}")
        if self._port is None:
            raise WorkflowError("this context is not attached to a running workflow")
        self._port.publish(event)

    def collect_events(
        self, event: Event, expected: Sequence[type[Event] | str]
    ) -> list[Any] | None:
        """Buffer ``event``; once one of each ``expected`` type is there, return them in order."""
        added, out = collect(self._collected, event, expected)
        log = self._collect_log()
        if log is not None:
            log.append(("add", added.event_type, added))
            if out is not None:
                log.append(("take", out))
        return out

    # -- values --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        """Store ``value`` in its best tier (Bytes, Json, Native pickle, or live session)."""
        if type(key) is not str:
            raise _bad_key(key)
        t = type(value)
        if t is dict or t is list:
            try:  # the private copy that is stored and never mutated (``get`` copies it)
                value = checked_dict(value) if t is dict else checked_list(value)
            except (NotJsonError, RecursionError):
                self._set_slow(key, value)  # not JSON: a Native pickle or a live reference
                return
            if "." in key and key.endswith(META_SUFFIX):
                self._put(key, value)  # the record of a BlazenState object
                return
        elif not (
            t is str
            or t is bool
            or value is None
            or t is bytes
            or (t is int and INT_MIN <= value <= INT_MAX)
            or (t is float and value - value == 0.0)  # finite floats only
        ):
            self._set_slow(key, value)
            return
        self._data[key] = value
        if self._states and key in self._states:
            self._drop_state(key)  # a plain value replaces a BlazenState object
        if self._session and key in self._session:
            del self._session[key]
        if self._recording:
            self._note(key)

    def _set_slow(self, key: str, value: Any) -> None:
        if isinstance(value, BlazenState):
            self._set_state_object(key, value)
            return
        stored = stored_form(value)
        if stored is _LIVE:
            self._put_live(key, value)
        else:
            self._put(key, stored)

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` as its original type (a fresh copy), or ``default``.

        A stored ``None`` also gives ``default``, as in the Rust-core package.
        """
        v = self._data.get(key, _MISSING)
        if v is _MISSING:
            if type(key) is not str:
                raise _bad_key(key)
            if key in self._session:
                return self._session[key]
            if key + META_SUFFIX in self._data:
                return self._get_state_object(key)
            return default
        t = type(v)
        if t is dict:  # checked when stored: copy the containers, check nothing again
            if is_tracked(v):
                return clone_dict(v)  # may hold containers: copy them too
            return v.copy()  # untracked = flat (see values.clone_dict): a full copy
        if t is str or t is int or t is bytes or t is bool or t is float:
            return v
        if v is None:
            return default
        if t is _NativeValue:
            return _unpickle(key, v.data)
        return clone_json(v)

    def set_bytes(self, key: str, data: bytes | bytearray | memoryview | Sequence[int]) -> None:
        """Store raw binary data; ``bytes`` are kept without a copy (a list of ints is
        accepted, as in the Rust-core package)."""
        if type(key) is not str:
            raise _bad_key(key)
        if type(data) is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif isinstance(data, (list, tuple)):
                data = _default_bytes(key, data)
            else:
                raise ContextError(
                    f"set_bytes({key!r}) needs bytes, bytearray, memoryview or a list of ints, "
                    f"not {type(data).__name__}"
                )
        self._put(key, data)

    def get_bytes(self, key: str, default: Sequence[int] | None = None) -> bytes | None:
        """The bytes stored under ``key`` (no copy); ``default`` (as bytes) when the key is
        absent or holds another kind of value (as in the Rust-core package)."""
        v = self._data.get(key, _MISSING)
        if type(v) is bytes:
            return v
        if v is _MISSING and type(key) is not str:
            raise _bad_key(key)
        return None if default is None else _default_bytes(key, default)

    def set_value(self, key: str, value: StateValue) -> None:
        """Store a ``StateValue`` exactly (a Native value's bytes are kept as they are)."""
        if type(key) is not str:
            raise _bad_key(key)
        self._put_value(key, value)

    def get_value(self, key: str) -> StateValue | None:
        """The stored ``StateValue`` (Native values are not unpickled), ``None`` if absent."""
        if type(key) is not str:
            raise _bad_key(key)
        v = self._data.get(key, _MISSING)
        if v is _MISSING:
            return None
        return self._as_state_value(v, copy=True)

    def delete(self, key: str) -> None:
        """Remove ``key`` from the context (persisted values and live references)."""
        if type(key) is not str:
            raise _bad_key(key)
        self._drop_state(key)
        self._remove(key)
        self._session.pop(key, None)

    def keys(self) -> list[str]:
        """Keys of persisted values (``BlazenState`` objects appear under their own key)."""
        return list(self._iter_keys())

    # -- async aliases -------------------------------------------------------------------
    async def aset(self, key: str, value: Any) -> None:
        self.set(key, value)

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    async def aset_bytes(
        self, key: str, data: bytes | bytearray | memoryview | Sequence[int]
    ) -> None:
        self.set_bytes(key, data)

    async def aget_bytes(self, key: str, default: Sequence[int] | None = None) -> bytes | None:
        return self.get_bytes(key, default)

    async def arun_id(self) -> str:
        return self._run_id

    async def aset_value(self, key: str, value: StateValue) -> None:
        self.set_value(key, value)

    async def aget_value(self, key: str) -> StateValue | None:
        return self.get_value(key)

    async def asend_event(self, event: Event) -> None:
        self.send_event(event)

    async def awrite_event_to_stream(self, event: Event) -> None:
        self.write_event_to_stream(event)

    # -- safe concurrent updates and the current attempt --------------------------------
    @contextlib.asynccontextmanager
    async def edit_state(self, key: str, default: Any = None) -> AsyncIterator[Edit]:
        """Read, change and write back ``key`` with no other ``edit_state`` of it between.

        ``async with ctx.edit_state("seen", []) as edit: edit.value.append(x)`` (or
        ``edit.value += 1``): the value is read when the block starts and stored when it
        ends without an exception. Steps that ``get``, ``await``, then ``set`` the same key
        overwrite each other's changes; edits of one key wait for each other instead.
        Works for any value, ``BlazenState`` objects included.
        """
        if type(key) is not str:
            raise _bad_key(key)
        locks = self._locks
        if locks is None:
            locks = self._locks = {}
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        async with lock:
            edit = Edit(self.get(key, default))
            yield edit
            self.set(key, edit.value)

    def attempt(self) -> int:
        """The current step's attempt: 1, then 2, 3... when ``retries=`` runs it again."""
        call = current_step.get()
        if call is None:
            raise WorkflowError("ctx.attempt() can only be called from inside a running step")
        return call.attempt

    _get_stored = get

    def __repr__(self) -> str:
        return f"<Context run_id={self._run_id} keys={len(self._data)}>"
