"""``Context``: the key-value store shared by every step of one run.

Values are kept in their storage tier: JSON-compatible data as a private copy, ``bytes``
as is (never copied), picklable objects as ``StateValue.Native`` pickle bytes, and
everything else as a live reference in the session namespace.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from typing import Any

from blazen._call import DELETED, RunPort, current_step
from blazen._collect import collect
from blazen._namespaces import SessionNamespace, StateNamespace
from blazen.errors import ContextError, WorkflowError
from blazen.events import Event
from blazen.state import (
    META_SUFFIX,
    BlazenState,
    meta_record,
    meta_sets,
    rebuild,
    value_digest,
)
from blazen.values import LIVE as _LIVE
from blazen.values import (
    NotJsonError,
    StateValue,
    checked_dict,
    checked_list,
    clone_dict,
    clone_json,
    is_tracked,
    same_stored,
    stored_form,
)

__all__ = ["Context"]

_NativeValue = StateValue.Native
_JsonValue = StateValue.Json
_BytesValue = StateValue.Bytes
_MISSING: Any = object()
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


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


class Context:
    """One per run. All methods are synchronous; ``aset``/``aget``/... are async aliases."""

    __slots__ = (
        "_ambient_ops",
        "_collected",
        "_data",
        "_dirty",
        "_port",
        "_run_id",
        "_session",
        "_state_ns",
        "_states",
        "session",
    )

    def __init__(self, run_id: str, port: RunPort | None = None) -> None:
        self._run_id = run_id
        self._port = port
        self._data: dict[str, Any] = {}
        self._session: dict[str, Any] = {}
        self._dirty: set[str] | None = None  # durable runs: keys written outside any step
        self._ambient_ops: list[Any] = []  # durable runs: collect changes outside any step
        self._collected: dict[str, list[Event]] = {}
        self._states: set[str] = set()  # keys holding a BlazenState (its fields and record)
        self._state_ns: StateNamespace | None = None
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
            or (t is int and _INT_MIN <= value <= _INT_MAX)
            or (t is float and value - value == 0.0)  # finite floats only
        ):
            self._set_slow(key, value)
            return
        self._data[key] = value
        if self._states and key in self._states:
            self._drop_state(key)  # a plain value replaces a BlazenState object
        if self._session and key in self._session:
            del self._session[key]
        if self._dirty is not None:
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
        """The value stored under ``key`` as its original type (a fresh copy), or ``default``."""
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
        if t is str or t is int or t is bytes or t is bool or t is float or v is None:
            return v
        if t is _NativeValue:
            return _unpickle(key, v.data)
        return clone_json(v)

    def set_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Store raw binary data; ``bytes`` are kept without a copy."""
        if type(key) is not str:
            raise _bad_key(key)
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ContextError(
                    f"set_bytes({key!r}) needs bytes, bytearray or memoryview, "
                    f"not {type(data).__name__}"
                )
            data = bytes(data)
        self._put(key, data)

    def get_bytes(self, key: str) -> bytes | None:
        """The bytes stored under ``key`` (no copy), ``None`` if absent; error if not bytes."""
        v = self._data.get(key, _MISSING)
        if v is _MISSING:
            if type(key) is not str:
                raise _bad_key(key)
            return None
        if type(v) is not bytes:
            raise ContextError(f"context key {key!r} holds {self._kind(v)} data, not bytes")
        return v

    def set_value(self, key: str, value: StateValue) -> None:
        """Store a ``StateValue`` exactly (a Native value's bytes are kept as they are)."""
        if type(key) is not str:
            raise _bad_key(key)
        if isinstance(value, _JsonValue):
            self._put(key, clone_json(value.value))  # checked when the StateValue was made
        elif isinstance(value, _BytesValue):
            self._put(key, value.data)
        elif isinstance(value, _NativeValue):
            self._put(key, value)
        else:
            raise ContextError(f"set_value({key!r}) needs a StateValue, not {type(value).__name__}")

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

    async def aset_bytes(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.set_bytes(key, data)

    async def aget_bytes(self, key: str) -> bytes | None:
        return self.get_bytes(key)

    async def aset_value(self, key: str, value: StateValue) -> None:
        self.set_value(key, value)

    async def aget_value(self, key: str) -> StateValue | None:
        return self.get_value(key)

    async def asend_event(self, event: Event) -> None:
        self.send_event(event)

    async def awrite_event_to_stream(self, event: Event) -> None:
        self.write_event_to_stream(event)

    # -- internals used by the namespaces and the runtime --------------------------------
    def _put(self, key: str, stored: Any) -> None:
        self._data[key] = stored
        if self._states and key in self._states:
            self._drop_state(key)
        elif key.endswith(META_SUFFIX):
            self._states.add(key[: -len(META_SUFFIX)])
        if self._session and key in self._session:
            del self._session[key]
        if self._dirty is not None:
            self._note(key)

    def _put_live(self, key: str, value: Any) -> None:
        self._drop_state(key)
        self._remove(key)
        self._session[key] = value

    def _drop_state(self, key: str) -> None:
        """Remove the entries of a ``BlazenState`` object stored under ``key``, if any."""
        self._states.discard(key)
        record = self._data.get(key + META_SUFFIX)
        if isinstance(record, dict):
            names = (*record.get("fields", []), *record.get("store_by", []), "__blazen_meta__")
            for name in names:
                self._remove(f"{key}.{name}")

    def _remove(self, key: str) -> None:
        if self._data.pop(key, _MISSING) is not _MISSING and self._dirty is not None:
            self._note(key)

    def _mark(self, key: str) -> None:
        if self._dirty is not None:
            self._dirty.add(key)

    def _note(self, key: str) -> None:
        """Durable runs: record a write for the commit of the step making it (or the next one).

        Each step commits only its own writes, with the value it wrote, so a commit never
        carries half-done work of a step still running.
        """
        call = current_step.get()
        if call is not None and call.writes is not None:
            call.writes[key] = self._data.get(key, DELETED)
        elif self._dirty is not None:
            self._dirty.add(key)

    def _collect_log(self) -> list[Any] | None:
        """Where a durable run records ``collect_events`` changes (``None``: not durable)."""
        if self._dirty is None:
            return None
        call = current_step.get()
        if call is not None and call.collect_ops is not None:
            return call.collect_ops
        return self._ambient_ops

    def _has(self, key: str) -> bool:
        return key in self._data or key + META_SUFFIX in self._data

    def _iter_keys(self) -> Iterator[str]:
        for k in self._data:
            if k.endswith(META_SUFFIX):
                yield k[: -len(META_SUFFIX)]
            elif not self._is_state_field(k):
                yield k

    def _is_state_field(self, key: str) -> bool:
        head, dot, _ = key.rpartition(".")
        return bool(dot) and head + META_SUFFIX in self._data

    @staticmethod
    def _kind(v: Any) -> str:
        t = type(v)
        return "bytes" if t is bytes else "native" if t is _NativeValue else "json"

    @staticmethod
    def _as_state_value(v: Any, *, copy: bool) -> StateValue:
        t = type(v)
        if t is bytes:
            return _BytesValue(v)
        if t is _NativeValue:
            return v  # type: ignore[no-any-return]
        sv = object.__new__(_JsonValue)
        object.__setattr__(sv, "value", clone_json(v) if copy else v)
        return sv

    def _set_state_object(self, key: str, obj: BlazenState) -> None:
        """Store each field as ``"<key>.<field>"``; unchanged fields are not rewritten.

        Field stores are called first, so a failing ``save`` leaves the context unchanged;
        a ``store_by`` field whose value (by pickle digest) did not change is not saved again.
        """
        record = meta_record(obj)
        _, store_by = meta_sets(type(obj))
        old = self._data.get(key + META_SUFFIX)
        old = old if isinstance(old, dict) else {}
        same_type = old.get("type") == record["type"]
        old_digests = old.get("digests", {}) if same_type else {}
        digests = {}
        for name in record["store_by"]:
            value = getattr(obj, name)
            digest = value_digest(value)
            if digest is None or old_digests.get(name) != digest:
                try:
                    store_by[name].save(f"{key}.{name}", value, self)
                except Exception as exc:
                    raise ContextError(
                        f"the field store of {key}.{name} failed to save: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            if digest is not None:
                digests[name] = digest
        record["digests"] = digests
        kept = {*record["fields"], *record["store_by"]}
        for name in {*old.get("fields", ()), *old.get("store_by", ())} - kept:
            self._remove(f"{key}.{name}")  # fields the previous object had and this one lacks
        self._remove(key)
        self._session.pop(key, None)  # a live value formerly under ``key``
        for name in record["fields"]:
            self._set_if_changed(f"{key}.{name}", getattr(obj, name))
        meta_key = key + META_SUFFIX
        if self._data.get(meta_key) != record:
            self._put(meta_key, record)

    def _set_if_changed(self, key: str, value: Any) -> None:
        stored = stored_form(value)
        if stored is _LIVE:
            self._put_live(key, value)
            return
        old = self._data.get(key, _MISSING)
        if type(old) is not type(stored) or not same_stored(old, stored):
            self._put(key, stored)

    def _get_state_object(self, key: str) -> Any:
        record = self._data[key + META_SUFFIX]
        return rebuild(record, key, self.get, self)

    def __repr__(self) -> str:
        return f"<Context run_id={self._run_id} keys={len(self._data)}>"
