"""``SessionPausePolicy``: what a pause does with the live values of ``ctx.session``.

The engine calls :func:`freeze_session` when it builds a snapshot and :func:`thaw_session`
for each session entry when it restores one. Session entries travel as context entries under
``__blazen_session__.<key>``: a ``Native`` value holds the entry's pickle, a ``Bytes`` value
the ``__blazen_serialize__`` frame of a class implementing that protocol.
"""

from __future__ import annotations

import enum
import pickle
import warnings
from collections.abc import Mapping
from typing import Any

from blazen._meta import SESSION_PREFIX
from blazen._serialize import (
    SessionRefError,
    deserialize_framed,
    implements_protocol,
    serialize_framed,
)
from blazen.errors import SessionPauseError, SnapshotError, WorkflowValidationError
from blazen.values import StateValue, native_dumps

__all__ = [
    "SessionPausePolicy",
    "freeze_session",
    "normalize_policy",
    "session_key",
    "session_name",
    "thaw_session",
]


class SessionPausePolicy(str, enum.Enum):
    """Policy for live session values at pause (the Rust core's ``SessionPausePolicy``).

    ``PickleOrError`` (default): pickle each value; refuse to pause, naming the keys, when
    one cannot be. ``PickleOrSerialize``: as ``PickleOrError``, but a value whose class
    implements ``__blazen_serialize__``/``__blazen_deserialize__`` is carried through that
    protocol. ``WarnDrop``: pickle what can be, drop the rest with a ``RuntimeWarning``.
    ``HardError``: refuse to pause while the session holds anything. Each member equals its
    old string spelling (``SessionPausePolicy.WarnDrop == "warn_drop"``).
    """

    PickleOrError = "pickle_or_error"
    PickleOrSerialize = "pickle_or_serialize"
    WarnDrop = "warn_drop"
    HardError = "hard_error"

    def __repr__(self) -> str:
        return f"SessionPausePolicy.{self.name}"

    __str__ = __repr__


def normalize_policy(value: Any) -> SessionPausePolicy:
    """A ``SessionPausePolicy`` from a member, its string spelling or ``None`` (the default)."""
    if value is None:
        return SessionPausePolicy.PickleOrError
    if isinstance(value, SessionPausePolicy):
        return value
    if isinstance(value, str):
        for member in SessionPausePolicy:
            if value in (member.value, member.name):
                return member
    spellings = ", ".join(f"SessionPausePolicy.{m.name} ({m.value!r})" for m in SessionPausePolicy)
    raise WorkflowValidationError(f"session_pause_policy must be one of {spellings}, not {value!r}")


def session_key(name: str) -> str:
    """The snapshot context key holding session entry ``name``."""
    return SESSION_PREFIX + name


def session_name(key: str) -> str | None:
    """The session entry a snapshot context key holds, or ``None`` for an ordinary key."""
    return key[len(SESSION_PREFIX) :] if key.startswith(SESSION_PREFIX) else None


def freeze_session(session: Mapping[str, Any], policy: Any, run_id: str) -> dict[str, StateValue]:
    """The session entries a snapshot of run ``run_id`` carries, under ``policy``.

    Raises ``SessionPauseError`` (naming the keys) when the policy refuses the pause;
    ``WarnDrop`` drops what it cannot carry with a ``RuntimeWarning``.
    """
    policy = normalize_policy(policy)
    if not session:
        return {}
    if policy is SessionPausePolicy.HardError:
        raise SessionPauseError(
            f"cannot pause run {run_id}: session_pause_policy='hard_error' and the session "
            f"holds {sorted(session)}",
            session,
        )
    out: dict[str, StateValue] = {}
    failed: list[str] = []
    for name, value in session.items():
        frozen = _freeze(value, policy)
        if frozen is None:
            failed.append(name)
        else:
            out[session_key(name)] = frozen
    if failed and policy is not SessionPausePolicy.WarnDrop:
        raise SessionPauseError(_refusal(run_id, policy, failed), failed)
    if failed:
        warnings.warn(
            f"pausing run {run_id} drops session values {sorted(failed)} (not picklable)",
            RuntimeWarning,
            stacklevel=3,
        )
    return out


def _freeze(value: Any, policy: SessionPausePolicy) -> StateValue | None:
    """One entry's snapshot form, or ``None`` when the policy cannot carry it."""
    if policy is SessionPausePolicy.PickleOrSerialize and implements_protocol(value):
        try:
            return StateValue.Bytes(serialize_framed(value)[1])
        except SessionRefError:
            pass  # the protocol failed: pickling is still worth a try
    try:
        return StateValue.Native(native_dumps(value))
    except Exception:
        return None


def _refusal(run_id: str, policy: SessionPausePolicy, failed: list[str]) -> str:
    how = "pickled" if policy is SessionPausePolicy.PickleOrError else "pickled or serialized"
    hint = (
        "implement __blazen_serialize__/__blazen_deserialize__ with "
        "SessionPausePolicy.PickleOrSerialize, "
        if policy is SessionPausePolicy.PickleOrError
        else ""
    )
    return (
        f"cannot pause run {run_id}: session values {sorted(failed)} cannot be {how} "
        f"(remove them before pausing, {hint}or use session_pause_policy='warn_drop')"
    )


def thaw_session(key: str, value: StateValue) -> Any:
    """Rebuild one session entry from its snapshot form; ``SnapshotError`` if it cannot be."""
    name = session_name(key) or key
    if isinstance(value, StateValue.Native):
        try:
            return pickle.loads(value.data)
        except Exception as exc:
            raise SnapshotError(
                f"session value {name!r} in the snapshot cannot be unpickled here: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if isinstance(value, StateValue.Bytes):
        try:
            return deserialize_framed(value.data)
        except SessionRefError as exc:
            raise SessionRefError(f"session value {name!r} cannot be rebuilt: {exc}") from exc
    raise SnapshotError(
        f"session value {name!r} in the snapshot is a {value.kind} value; "
        f"expected Native (pickle) or Bytes (__blazen_serialize__)"
    )
