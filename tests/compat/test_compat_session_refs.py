"""SessionPausePolicy, SessionRefRegistry, RegistryKey, RefLifetime, RemoteRefDescriptor."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from blazen import (
    Context,
    Event,
    RefLifetime,
    RegistryKey,
    RemoteRefDescriptor,
    SessionPausePolicy,
    SessionRefRegistry,
    StartEvent,
    StopEvent,
    Workflow,
    step,
)

from ._blobs import Blob
from ._util import snapshot_json, until_snapshot_mentions


class Opaque:
    pass


def test_session_pause_policy_members() -> None:
    names = ["PickleOrError", "PickleOrSerialize", "WarnDrop", "HardError"]
    for name in names:
        member = getattr(SessionPausePolicy, name)
        assert repr(member) == str(member) == f"SessionPausePolicy.{name}"
        assert member == getattr(SessionPausePolicy, name)
    assert SessionPausePolicy.WarnDrop != SessionPausePolicy.HardError


@pytest.mark.parametrize("name", ["PickleOrError", "PickleOrSerialize", "WarnDrop", "HardError"])
def test_workflow_takes_each_policy(name: str) -> None:
    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        return StopEvent(result=1)

    Workflow("policy", [s], session_pause_policy=getattr(SessionPausePolicy, name))
    Workflow("policy", [s], session_pause_policy=None)


def test_registry_key() -> None:
    key = RegistryKey.new_random()
    same = RegistryKey(str(key))
    assert same == key
    assert hash(same) == hash(key)
    assert repr(key) == f"RegistryKey({key})"
    assert RegistryKey.new_random() != key
    with pytest.raises(ValueError, match="invalid UUID"):
        RegistryKey("not-a-uuid")


def test_ref_lifetime() -> None:
    members = ["UntilContextDrop", "UntilExplicitDrop", "UntilSnapshot", "UntilParentFinish"]
    for i, name in enumerate(members):
        member = getattr(RefLifetime, name)
        assert int(member) == i
        assert repr(member) == str(member) == f"RefLifetime.{name}"


def test_remote_ref_descriptor() -> None:
    d = RemoteRefDescriptor("node-1", "pkg.Type", 1700000000000)
    assert (d.origin_node_id, d.type_tag, d.created_at_epoch_ms) == (
        "node-1",
        "pkg.Type",
        1700000000000,
    )
    assert "node-1" in repr(d)


async def test_an_empty_registry_and_its_async_twins() -> None:
    reg = SessionRefRegistry()
    key = RegistryKey.new_random()
    assert (reg.len(), reg.is_empty(), reg.keys(), reg.remote_entries()) == (0, True, [], [])
    assert (reg.lifetime_of(key), reg.get_remote(key), reg.is_remote(key)) == (None, None, False)
    assert (reg.remove(key), reg.drain(), reg.clear_on_context_drop(True)) == (False, 0, 0)
    assert repr(reg) == "SessionRefRegistry(len=0)"
    assert (await reg.alen(), await reg.ais_empty(), await reg.akeys()) == (0, True, [])
    assert await reg.alifetime_of(key) is None
    assert await reg.aget_remote(key) is None
    assert (await reg.ais_remote(key), await reg.aremote_entries()) == (False, [])
    assert (await reg.aremove(key), await reg.adrain()) == (False, 0)
    assert await reg.aclear_on_context_drop(False) == 0


async def _result_with_refs() -> Any:
    kept = Opaque()

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        ctx.session.set("live", kept)
        Event("Built", obj=Opaque())
        return StopEvent(result={"n": 1})

    handler = await Workflow("refs", [s]).run_with_handler()
    return await handler.result()


async def test_result_session_refs_lists_the_live_values_of_the_run() -> None:
    refs = (await _result_with_refs()).session_refs
    assert refs.len() == 2
    keys = refs.keys()
    assert all(isinstance(k, RegistryKey) for k in keys)
    assert [refs.lifetime_of(k) for k in keys] == [RefLifetime.UntilContextDrop] * 2
    assert not refs.is_remote(keys[0])
    assert refs.remove(keys[0])
    assert not refs.remove(keys[0])
    assert refs.clear_on_context_drop(False) == 0
    assert refs.clear_on_context_drop(True) == 1
    assert refs.is_empty()


async def test_drain_releases_everything() -> None:
    refs = (await _result_with_refs()).session_refs
    assert refs.drain() == 2
    assert refs.len() == 0


async def test_a_live_result_keeps_its_identity() -> None:
    obj = Opaque()

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        return StopEvent(result=obj)

    handler = await Workflow("identity", [s]).run_with_handler()
    assert (await handler.result()).result is obj


async def _paused_snapshot_with_blob(policy: Any) -> str:
    """Snapshot of a run that built an event holding a ``Blob``, paused waiting for input."""

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        Event("Carrier", payload=Blob(7, "kept"))  # registers the blob with the run
        return Event("blazen::InputRequestEvent", request_id="blob-req", prompt="", metadata={})

    @step(accepts=["blazen::InputResponseEvent"])
    async def done(ctx: Context, ev: Event) -> Any:
        return StopEvent(result=None)

    handler = await Workflow("blob", [s, done], session_pause_policy=policy).run_with_handler()
    await until_snapshot_mentions(handler, '"blob-req"')
    await handler.pause()
    js = await snapshot_json(handler)
    await handler.abort()
    with contextlib.suppress(Exception):
        await handler.result()
    return js


async def test_pickle_or_serialize_puts_protocol_values_in_the_snapshot() -> None:
    js = await _paused_snapshot_with_blob(SessionPausePolicy.PickleOrSerialize)
    entries = json.loads(js)["metadata"]["__blazen_serialized_session_refs"]
    ((key, record),) = entries.items()
    RegistryKey(key)
    assert record["type_tag"] == f"{Blob.__module__}.Blob"
    raw = bytes(record["data"])
    size = int.from_bytes(raw[:4], "big")
    assert raw[4 : 4 + size].decode() == record["type_tag"]
    assert json.loads(raw[4 + size :]) == {"n": 7, "tag": "kept"}


async def test_resume_with_session_refs_rejects_an_unknown_class() -> None:
    js = await _paused_snapshot_with_blob(SessionPausePolicy.PickleOrSerialize)
    snap = json.loads(js)
    for record in snap["metadata"]["__blazen_serialized_session_refs"].values():
        raw = bytes(record["data"])
        user = raw[4 + int.from_bytes(raw[:4], "big") :]
        tag = b"no.such.module.Missing"
        record["data"] = list(len(tag).to_bytes(4, "big") + tag + user)
        record["type_tag"] = tag.decode()

    @step
    async def s(ctx: Context, ev: StartEvent) -> Any:
        return StopEvent(result=None)

    with pytest.raises(RuntimeError):
        await Workflow.resume_with_session_refs(json.dumps(snap), [s])
