"""The storage under a ``Context``: stored values, live references, collect buffers.

``ContextData`` keeps each value in its storage tier and records, for durable runs, every
write for the commit of the step making it. ``ContextPersistence`` is the only way the
runtime reads or restores that storage, so its layout stays private to this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from blazen._call import DELETED, RunPort, current_step
from blazen._jsoncopy import NotJsonError, clone_json, json_copy
from blazen._state_digest import value_digest
from blazen.errors import ContextError
from blazen.events import Event
from blazen.state import META_SUFFIX, BlazenState, FieldStore, meta_record, meta_sets, rebuild
from blazen.values import LIVE as _LIVE
from blazen.values import StateValue, same_stored, stored_form

__all__ = ["ContextData", "ContextPersistence", "persistence"]

_NativeValue = StateValue.Native
_JsonValue = StateValue.Json
_BytesValue = StateValue.Bytes
_MISSING: Any = object()


class ContextData:
    """Stored values by key (JSON copies, bytes, ``StateValue.Native``) and live references."""

    __slots__ = (
        "_ambient",
        "_ambient_ops",
        "_collected",
        "_data",
        "_port",
        "_recording",
        "_run_id",
        "_session",
        "_states",
    )

    def __init__(self, run_id: str, port: RunPort | None = None) -> None:
        self._run_id = run_id
        self._port = port
        self._data: dict[str, Any] = {}
        self._session: dict[str, Any] = {}
        self._recording = False  # durable runs: record each write for its step's commit
        self._ambient: set[str] = set()  # durable runs: keys written outside any step
        self._ambient_ops: list[Any] = []  # durable runs: collect changes outside any step
        self._collected: dict[str, list[Event]] = {}
        self._states: set[str] = set()  # keys holding a BlazenState (its fields and record)

    def _get_stored(self, key: str, default: Any = None) -> Any:
        """Overridden by ``Context``: the value under ``key`` as its original type."""
        raise NotImplementedError

    def _put_value(self, key: str, value: StateValue) -> None:
        """Store a ``StateValue`` exactly (a Native value's bytes are kept as they are)."""
        if isinstance(value, _JsonValue):
            self._put(key, clone_json(value.value))  # checked when the StateValue was made
        elif isinstance(value, _BytesValue):
            self._put(key, value.data)
        elif isinstance(value, _NativeValue):
            self._put(key, value)
        else:
            raise ContextError(f"set_value({key!r}) needs a StateValue, not {type(value).__name__}")

    def _put(self, key: str, stored: Any) -> None:
        self._data[key] = stored
        if self._states and key in self._states:
            self._drop_state(key)
        elif key.endswith(META_SUFFIX):
            self._states.add(key[: -len(META_SUFFIX)])
        if self._session and key in self._session:
            del self._session[key]
        if self._recording:
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
        if self._data.pop(key, _MISSING) is not _MISSING and self._recording:
            self._note(key)

    def _note(self, key: str) -> None:
        """Durable runs: record a write for the commit of the step making it (or the next one).

        Each step commits only its own writes, with the value it wrote, so a commit never
        carries half-done work of a step still running.
        """
        call = current_step.get()
        if call is not None and call.writes is not None:
            call.writes[key] = self._data.get(key, DELETED)
        else:
            self._ambient.add(key)

    def _collect_log(self) -> list[Any] | None:
        """Where a durable run records ``collect_events`` changes (``None``: not durable)."""
        if not self._recording:
            return None
        call = current_step.get()
        if call is not None and call.collect_ops is not None:
            return call.collect_ops
        return self._ambient_ops

    def _has(self, key: str) -> bool:
        """Whether ``key`` holds a value (a stored ``None`` reads as absent, as upstream)."""
        v = self._data.get(key, _MISSING)
        if v is not _MISSING:
            return v is not None
        return key + META_SUFFIX in self._data

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
        a ``store_by`` field whose value (by digest) did not change is not saved again. The
        record keeps each field's digest (checked on load) and the reference its ``save``
        returned, if any (handed back to ``load``).
        """
        record = meta_record(obj)
        _, store_by = meta_sets(type(obj))
        old = self._data.get(key + META_SUFFIX)
        old = old if isinstance(old, dict) else {}
        same_type = old.get("type") == record["type"]
        old_digests = old.get("digests", {}) if same_type else {}
        old_refs = (old.get("refs") or {}) if same_type else {}
        digests, refs = {}, {}
        for name in record["store_by"]:
            value = getattr(obj, name)
            digest = value_digest(value)
            if digest is None or old_digests.get(name) != digest:
                ref = self._save_field(store_by[name], f"{key}.{name}", value)
            else:
                ref = old_refs.get(name)
            if ref is not None:
                refs[name] = ref
            if digest is not None:
                digests[name] = digest
        record["digests"] = digests
        if refs:
            record["refs"] = refs
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

    def _save_field(self, store: FieldStore, key: str, value: Any) -> Any:
        """``store.save``: the JSON copy of the reference it returned, or ``None``."""
        try:
            ref = store.save(key, value, self)
        except Exception as exc:
            raise ContextError(
                f"the field store of {key} failed to save: {type(exc).__name__}: {exc}"
            ) from exc
        if ref is None:
            return None
        try:
            return json_copy(ref)
        except (NotJsonError, RecursionError) as exc:
            raise ContextError(
                f"the field store of {key} returned a reference that is not JSON ({exc}): "
                "return a str, number, list or dict naming where the value is, or None"
            ) from None

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
        return rebuild(record, key, self._get_stored, self)


class ContextPersistence:
    """The engine's view of a Context: export and restore its state, record its writes.

    The runtime reads and restores a run's context only through this interface (never
    through the Context's private attributes), so the storage layout stays private here.
    """

    __slots__ = ("_ctx",)

    def __init__(self, ctx: ContextData) -> None:
        self._ctx = ctx

    def export_state(self, *, copy: bool) -> dict[str, StateValue]:
        """Every stored value (not the session) as a ``StateValue``; ``copy`` for a snapshot."""
        return {k: ContextData._as_state_value(v, copy=copy) for k, v in self._ctx._data.items()}

    def restore_state(self, state: Mapping[str, StateValue]) -> None:
        """Store each value exactly (Native bytes kept), without recording the writes."""
        with self.recording_off():
            for key, value in state.items():
                self._ctx._put_value(key, value)

    def export_collected(self) -> dict[str, list[Event]]:
        """The ``collect_events`` buffers (event type -> events, in arrival order)."""
        return {t: list(evs) for t, evs in self._ctx._collected.items()}

    def restore_collected(self, buffers: Mapping[str, list[Event]]) -> None:
        """Replace the ``collect_events`` buffers (a restored run's buffers are committed)."""
        self._ctx._collected.clear()
        self._ctx._collected.update({t: list(evs) for t, evs in buffers.items() if evs})

    @property
    def session(self) -> dict[str, Any]:
        """The live session entries (the very dict: restoring a run fills it)."""
        return self._ctx._session

    def start_recording(self) -> None:
        """Durable runs: from now on every write is recorded for the commit that makes it."""
        self._ctx._recording = True

    @contextlib.contextmanager
    def recording_off(self) -> Iterator[None]:
        """Writes inside the block are not recorded (a restore is not a new write)."""
        ctx = self._ctx
        before, ctx._recording = ctx._recording, False
        try:
            yield
        finally:
            ctx._recording = before

    def take_writes(self) -> dict[str, StateValue | None]:
        """Keys written outside any step since the last call, with their values (None: gone)."""
        ctx = self._ctx
        if not ctx._ambient:
            return {}
        keys, ctx._ambient = ctx._ambient, set()
        data = ctx._data
        return {
            k: ContextData._as_state_value(data[k], copy=False) if k in data else None for k in keys
        }

    def step_writes(self, recorded: dict[str, Any] | None) -> dict[str, StateValue | None]:
        """What a step's commit writes: the keys written outside any step since the last
        call (``take_writes``), then the step's own recorded writes (``StepCall.writes``),
        each as a ``StateValue`` or ``None`` (deleted). Runs once per durable step."""
        writes = self.take_writes() if self._ctx._ambient else {}
        if recorded:
            as_value = ContextData._as_state_value
            for key, stored in recorded.items():
                writes[key] = None if stored is DELETED else as_value(stored, copy=False)
        return writes

    def take_collect_ops(self) -> list[Any]:
        """``collect_events`` changes made outside any step since the last call."""
        ops = self._ctx._ambient_ops
        if ops:
            self._ctx._ambient_ops = []
        return ops

    def detach(self) -> None:
        """The run ended: no more routing or streaming from this context."""
        self._ctx._port = None


def persistence(ctx: ContextData) -> ContextPersistence:
    """The persistence interface of ``ctx`` (for the runtime)."""
    return ContextPersistence(ctx)
