"""The session-ref registry: keys, lifetimes, release, and the serialize protocol's sidecar."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from blazen import (
    Event,
    RefLifetime,
    RegistryKey,
    RemoteRefDescriptor,
    SessionRefRegistry,
    SnapshotError,
    StopEvent,
)
from blazen.session_refs import (
    SERIALIZED_REFS_KEY,
    SessionRefError,
    current_registry,
    using_registry,
)


class Marker:
    def __init__(self, n: int = 0) -> None:
        self.n = n


class Blob:
    """Implements the ``__blazen_serialize__`` protocol (module scope: findable by tag)."""

    def __init__(self, n: int, tag: str = "") -> None:
        self.n = n
        self.tag = tag

    def __blazen_serialize__(self) -> bytes:
        return json.dumps({"n": self.n, "tag": self.tag}).encode()

    @classmethod
    def __blazen_deserialize__(cls, data: bytes) -> Blob:
        d = json.loads(data)
        return cls(d["n"], d["tag"])


class Refuses(Blob):
    def __blazen_serialize__(self) -> bytes:
        raise RuntimeError("not today")


def test_registry_key_parses_mints_compares_and_hashes() -> None:
    key = RegistryKey.new_random()
    again = RegistryKey(str(key))
    assert again == key
    assert hash(again) == hash(key)
    assert repr(key) == f"RegistryKey({key})"
    assert RegistryKey.new_random() != key
    assert key != str(key)
    with pytest.raises(ValueError, match="invalid UUID"):
        RegistryKey("nope")
    with pytest.raises(TypeError):
        RegistryKey(5)  # type: ignore[arg-type]


def test_ref_lifetime_members_and_spelling() -> None:
    assert [m.name for m in RefLifetime] == [
        "UntilContextDrop",
        "UntilExplicitDrop",
        "UntilSnapshot",
        "UntilParentFinish",
    ]
    assert int(RefLifetime.UntilSnapshot) == 2
    assert str(RefLifetime.UntilSnapshot) == repr(RefLifetime.UntilSnapshot)
    assert repr(RefLifetime.UntilSnapshot) == "RefLifetime.UntilSnapshot"


def test_remote_ref_descriptor_fields_and_checks() -> None:
    d = RemoteRefDescriptor("node-1", "mod.Type", 5)
    assert (d.origin_node_id, d.type_tag, d.created_at_epoch_ms) == ("node-1", "mod.Type", 5)
    assert repr(d) == (
        "RemoteRefDescriptor(origin_node_id='node-1', type_tag='mod.Type', created_at_epoch_ms=5)"
    )
    with pytest.raises(OverflowError):
        RemoteRefDescriptor("n", "t", -1)
    with pytest.raises(TypeError):
        RemoteRefDescriptor("n", 3, 1)  # type: ignore[arg-type]


def test_an_empty_registry() -> None:
    reg = SessionRefRegistry()
    key = RegistryKey.new_random()
    assert (reg.len(), reg.is_empty(), reg.keys(), reg.drain()) == (0, True, [], 0)
    assert reg.lifetime_of(key) is None
    assert reg.get_remote(key) is None
    assert not reg.is_remote(key)
    assert not reg.remove(key)
    assert reg.remote_entries() == []
    assert repr(reg) == "SessionRefRegistry(len=0)"


def test_insert_is_once_per_object_and_keeps_it_alive() -> None:
    reg = SessionRefRegistry()
    a, b = Marker(1), Marker(2)
    ka = reg.insert(a)
    assert reg.insert(a) == ka
    kb = reg.insert(b, RefLifetime.UntilExplicitDrop)
    assert reg.keys() == [ka, kb]
    assert len(reg) == 2
    assert reg.get(ka) is a
    assert reg.lifetime_of(ka) is RefLifetime.UntilContextDrop
    assert reg.lifetime_of(kb) is RefLifetime.UntilExplicitDrop
    with pytest.raises(TypeError, match="RefLifetime"):
        reg.insert(a, "forever")  # type: ignore[arg-type]


def test_remove_discard_drain_and_a_released_key() -> None:
    reg = SessionRefRegistry()
    a, b, c = Marker(), Marker(), Marker()
    ka = reg.insert(a)
    reg.insert(b)
    reg.insert(c)
    assert reg.remove(ka)
    assert not reg.remove(ka)
    with pytest.raises(SessionRefError, match="no longer available") as info:
        reg.get(ka)
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, SnapshotError)
    assert reg.insert(a) != ka  # a new entry after release
    assert reg.discard(b)
    assert not reg.discard(b)
    assert not reg.discard(Marker())
    assert reg.drain() == 2
    assert reg.is_empty()


def test_clear_on_context_drop_follows_lifetimes() -> None:
    reg = SessionRefRegistry()
    keys = {lt: reg.insert(Marker(), lt) for lt in RefLifetime}
    assert reg.clear_on_context_drop(False) == 0
    assert reg.clear_on_context_drop(True) == 2
    assert set(reg.keys()) == {keys[RefLifetime.UntilExplicitDrop], keys[RefLifetime.UntilSnapshot]}
    with pytest.raises(TypeError):
        reg.clear_on_context_drop(1)  # type: ignore[arg-type]


async def test_async_twins_answer_like_the_sync_methods() -> None:
    reg = SessionRefRegistry()
    key = reg.insert(Marker())
    assert await reg.alen() == 1
    assert not await reg.ais_empty()
    assert await reg.akeys() == [key]
    assert await reg.alifetime_of(key) is RefLifetime.UntilContextDrop
    assert await reg.aget_remote(key) is None
    assert not await reg.ais_remote(key)
    assert await reg.aremote_entries() == []
    assert await reg.aclear_on_context_drop(False) == 0
    assert await reg.aremove(key)
    assert await reg.adrain() == 0


def test_inserts_from_many_threads_are_all_kept() -> None:
    reg = SessionRefRegistry()
    objs = [Marker(i) for i in range(400)]

    def put(chunk: list[Marker]) -> None:
        for o in chunk:
            reg.insert(o)

    threads = [threading.Thread(target=put, args=(objs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.len() == 400
    assert {reg.get(k).n for k in reg} == set(range(400))


def test_events_register_live_values_with_the_current_registry() -> None:
    reg = SessionRefRegistry()
    m, blob = Marker(), b"\x00"
    assert current_registry() is None
    with using_registry(reg):
        assert current_registry() is reg
        ev = Event("Carry", obj=m, nested={"xs": [1, blob]}, plain=[1, "a", None])
        StopEvent(result={"n": 1})  # JSON only: nothing to register
    assert current_registry() is None
    assert ev.obj is m
    assert [reg.get(k) for k in reg] == [m, blob]


def test_the_current_registry_follows_tasks_and_threads() -> None:
    reg = SessionRefRegistry()

    async def in_task() -> SessionRefRegistry | None:
        return current_registry()

    async def main() -> list[Any]:
        return [await asyncio.create_task(in_task()), await asyncio.to_thread(current_registry)]

    with using_registry(reg):
        assert asyncio.run(main()) == [reg, reg]


def test_snapshot_refs_serialize_protocol_values_and_list_the_rest() -> None:
    reg = SessionRefRegistry()
    kb = reg.insert(Blob(7, "x"))
    km = reg.insert(Marker())
    kr = reg.insert(Refuses(1))
    reg.insert(Blob(9), RefLifetime.UntilSnapshot)
    serialized, dropped = reg.snapshot_refs()
    assert reg.len() == 3  # the UntilSnapshot entry was released
    (record,) = serialized.values()
    assert list(serialized) == [str(kb)]
    assert record["type_tag"] == f"{__name__}.Blob"
    raw = bytes(record["data"])
    size = int.from_bytes(raw[:4], "big")
    assert raw[4 : 4 + size].decode() == record["type_tag"]
    assert json.loads(raw[4 + size :]) == {"n": 7, "tag": "x"}
    assert dropped == [str(km), str(kr)]


def test_restore_refs_rebuilds_values_under_their_keys() -> None:
    source = SessionRefRegistry()
    key = source.insert(Blob(3, "back"))
    serialized, _ = source.snapshot_refs()
    entries = json.loads(json.dumps({SERIALIZED_REFS_KEY: serialized}))[SERIALIZED_REFS_KEY]
    target = SessionRefRegistry()
    assert target.restore_refs(entries) == 1
    value = target.get(key)
    assert isinstance(value, Blob)
    assert (value.n, value.tag) == (3, "back")
    again, dropped = target.snapshot_refs()  # carried on by the next snapshot, as loaded
    assert again == serialized
    assert dropped == []


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([], "must be a map"),
        ({"not-a-uuid": {"data": []}}, "not a UUID"),
        ({"00000000-0000-0000-0000-000000000001": {}}, "no byte data"),
        ({"00000000-0000-0000-0000-000000000001": {"data": [0, 0]}}, "shorter"),
        ({"00000000-0000-0000-0000-000000000001": {"data": [0, 0, 0, 9, 65]}}, "truncated"),
        (
            {"00000000-0000-0000-0000-000000000001": {"data": [0, 0, 0, 3, 120, 46, 89]}},
            "no such class",
        ),
    ],
)
def test_restore_refs_rejects_bad_entries(entries: Any, match: str) -> None:
    with pytest.raises(SessionRefError, match=match):
        SessionRefRegistry().restore_refs(entries)
