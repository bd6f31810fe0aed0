"""``SessionPausePolicy``: spelling, and what freezing and thawing session values do."""

from __future__ import annotations

import json
import pickle
import threading
from typing import Any

import pytest

from blazen import SessionPauseError, SessionPausePolicy, SnapshotError, StateValue
from blazen.errors import WorkflowValidationError
from blazen.session_policy import (
    freeze_session,
    normalize_policy,
    session_key,
    session_name,
    thaw_session,
)

P = SessionPausePolicy


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


class Handle:
    """Not picklable (holds a lock) but implements the serialize protocol."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()

    def __blazen_serialize__(self) -> bytes:
        return json.dumps({"name": self.name}).encode()

    @classmethod
    def __blazen_deserialize__(cls, data: bytes) -> Handle:
        return cls(json.loads(data)["name"])


class BadBytes(Handle):
    def __blazen_serialize__(self) -> str:  # type: ignore[override]
        return "not bytes"


class Broken(Handle):
    @classmethod
    def __blazen_deserialize__(cls, data: bytes) -> Handle:
        raise ValueError("corrupt")


def test_members_spellings_and_equality_with_the_old_strings() -> None:
    assert [m.name for m in P] == ["PickleOrError", "PickleOrSerialize", "WarnDrop", "HardError"]
    assert P.WarnDrop == "warn_drop"
    assert str(P.WarnDrop) == repr(P.WarnDrop) == "SessionPausePolicy.WarnDrop"
    assert {P.HardError: 1}[P.HardError] == 1


@pytest.mark.parametrize(
    ("value", "member"),
    [
        (None, P.PickleOrError),
        (P.HardError, P.HardError),
        ("pickle_or_error", P.PickleOrError),
        ("pickle_or_serialize", P.PickleOrSerialize),
        ("warn_drop", P.WarnDrop),
        ("hard_error", P.HardError),
        ("WarnDrop", P.WarnDrop),
    ],
)
def test_normalize_policy_accepts_members_and_strings(value: Any, member: P) -> None:
    assert normalize_policy(value) is member


@pytest.mark.parametrize("bad", ["ignore", "", 1, object()])
def test_normalize_policy_rejects_anything_else(bad: Any) -> None:
    with pytest.raises(WorkflowValidationError, match="session_pause_policy must be one of"):
        normalize_policy(bad)


def test_session_keys_round_trip() -> None:
    assert session_name(session_key("db")) == "db"
    assert session_name("db") is None


def test_an_empty_session_freezes_to_nothing_under_any_policy() -> None:
    for policy in P:
        assert freeze_session({}, policy, "run-1") == {}


def test_pickle_or_error_pickles_and_names_what_cannot_be() -> None:
    frozen = freeze_session({"p": Point(3)}, "pickle_or_error", "run-1")
    (sv,) = frozen.values()
    assert list(frozen) == [session_key("p")]
    assert isinstance(sv, StateValue.Native)
    assert thaw_session(session_key("p"), sv).x == 3
    session = {"p": Point(1), "lock": threading.Lock(), "h": Handle("h")}
    with pytest.raises(SessionPauseError, match=r"run-1.*\['h', 'lock'\]") as info:
        freeze_session(session, P.PickleOrError, "run-1")
    assert info.value.keys == ["h", "lock"]


def test_pickle_or_serialize_uses_the_protocol_first() -> None:
    frozen = freeze_session({"h": Handle("db"), "p": Point(2)}, P.PickleOrSerialize, "r")
    h, p = frozen[session_key("h")], frozen[session_key("p")]
    assert isinstance(h, StateValue.Bytes)
    assert isinstance(p, StateValue.Native)
    back = thaw_session(session_key("h"), h)
    assert isinstance(back, Handle)
    assert back.name == "db"
    with pytest.raises(SessionPauseError, match=r"pickled or serialized"):
        freeze_session({"h": BadBytes("x")}, P.PickleOrSerialize, "r")


def test_warn_drop_keeps_what_pickles_and_warns_about_the_rest() -> None:
    with pytest.warns(RuntimeWarning, match=r"drops session values \['lock'\]"):
        frozen = freeze_session({"p": Point(1), "lock": threading.Lock()}, P.WarnDrop, "r")
    assert list(frozen) == [session_key("p")]


def test_hard_error_refuses_any_session_value() -> None:
    with pytest.raises(SessionPauseError, match="hard_error") as info:
        freeze_session({"p": Point(1)}, P.HardError, "r")
    assert info.value.keys == ["p"]


def test_thaw_errors_are_snapshot_errors() -> None:
    with pytest.raises(SnapshotError, match=r"'gone' .* cannot be unpickled"):
        thaw_session(session_key("gone"), StateValue.Native(b"\x80\x04not a pickle"))
    frozen = freeze_session({"b": Broken("x")}, P.PickleOrSerialize, "r")
    with pytest.raises(SnapshotError, match=r"'b' cannot be rebuilt: .*corrupt"):
        thaw_session(session_key("b"), frozen[session_key("b")])
    with pytest.raises(SnapshotError, match="json value"):
        thaw_session(session_key("j"), StateValue.Json(1))


def test_a_frozen_session_survives_pickling_of_the_snapshot_values() -> None:
    frozen = freeze_session({"p": Point(5)}, P.PickleOrError, "r")
    again = pickle.loads(pickle.dumps(frozen))
    assert thaw_session(session_key("p"), again[session_key("p")]).x == 5
