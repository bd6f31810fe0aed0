"""The ``blazen runs`` commands that read or change a store without running code."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from blazen._meta import WAITING_KEY, WAITING_STATE_KEY
from blazen.cli._common import CliError, console, resolve_run, run_with_store
from blazen.cli._drive import InputWait
from blazen.cli._render import (
    fmt_size,
    fmt_time,
    preview_event_data,
    state_preview,
    state_size,
    status_text,
)
from blazen.cli._target import open_cli_store, sqlite_file, store_label, store_url
from blazen.errors import StoreError
from blazen.snapshot import WorkflowSnapshot
from blazen.stores import (
    RUN_STATUSES,
    CheckpointInfo,
    CheckpointStore,
    LoadedRun,
    PendingEvent,
    RunRecord,
    run_status,
)
from blazen.stores.export import export_run
from blazen.values import StateValue

__all__ = [
    "STATUSES",
    "check_forkable",
    "check_resumable",
    "delete",
    "export",
    "list_runs",
    "show_events",
    "show_run",
]

STATUSES: tuple[str, ...] = RUN_STATUSES  # the one run-status vocabulary (stores/base.py)
_RESERVED = "__blazen"  # prefix of the context keys the engine writes beside user data


def _open(option: str | None) -> tuple[CheckpointStore, str]:
    store = open_cli_store(store_url(option), must_exist=True)
    return store, store_label(store)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _emit(out: Console, table: Table, caption: str | None = None) -> None:
    """Print a table (and a caption line under it); piped output has no trailing blanks."""
    if out.is_terminal:
        out.print(table)
    else:
        with out.capture() as captured:
            out.print(table)
        for line in captured.get().splitlines():
            out.print(line.rstrip(), markup=False, highlight=False, soft_wrap=True)
    if caption is not None:
        out.print(caption, markup=False, highlight=False, soft_wrap=True)


def _table(*columns: str, flex: str, **options: Any) -> Table:
    """A table whose ``flex`` column alone gives way (cut with …) when the screen is narrow."""
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title_justify="left",
        title_style="bold",
        **options,
    )
    for name in columns:
        table.add_column(name, no_wrap=name != flex)
    return table


def _cut(text: str) -> Text:
    """A cell that stays on one line, ending in … if its column is too narrow."""
    return Text(text, no_wrap=True, overflow="ellipsis")


# -- list ----------------------------------------------------------------------------------


def list_runs(
    option: str | None, workflow: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """``blazen runs list``."""
    out = console()
    url = store_url(option)
    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        if as_json:
            print("[]")
        else:
            out.print(f"No runs: there is no store at {path} yet.", markup=False)
        return
    store, label = _open(option)
    records = run_with_store(
        store,
        lambda: store.list_runs(
            workflow_name=workflow,
            status=None if status is None else run_status(status),
            limit=limit + 1,  # one more tells whether there are more
        ),
    )
    more = "; there are more: raise --limit" if len(records) > limit else ""
    records = records[:limit]
    if as_json:
        print(json.dumps([r.summary() for r in records], indent=2))
        return
    if not records:
        out.print(f"No runs in {label}.", markup=False)
        return
    narrow = out.width < 100  # a run id takes 36 columns: drop "created" to keep the rest
    names = ["run id", "workflow", "status", "last seq", "updated"]
    if not narrow:
        names.insert(4, "created")
    table = _table(*names, flex="workflow")
    table.columns[3].justify = "right"
    for r in records:
        cells: list[Any] = [r.run_id, _cut(r.workflow_name), status_text(r.status), str(r.last_seq)]
        if not narrow:
            cells.append(fmt_time(r.created_at, short=True))
        table.add_row(*cells, fmt_time(r.updated_at, short=True))
    _emit(out, table, f"{_plural(len(records), 'run')} in {label}{more}")


# -- show ----------------------------------------------------------------------------------


def show_run(option: str | None, run_id: str) -> None:
    """``blazen runs show``: the record, the checkpoint history, the context at the end."""
    store, label = _open(option)

    async def work() -> tuple[RunRecord, list[CheckpointInfo], LoadedRun]:
        record = await resolve_run(store, run_id, label)
        full = record.run_id
        return record, await store.checkpoints(full), await store.load(full)

    record, checkpoints, loaded = run_with_store(store, work)
    out = console()
    out.print(Text.assemble(("Run ", "bold"), (record.run_id, "bold")))
    lines = _record_lines(record, loaded.result)
    if record.status not in ("completed", "cancelled"):
        lines += [("waiting", f"{w.request_id}: {w.prompt}") for w in _waits(loaded.context_state)]
    for name, value in lines:
        out.print(Text.assemble(f"  {name:<12}", value), no_wrap=True, overflow="ellipsis")

    history = _table(
        "seq",
        "step",
        "attempt",
        "at",
        "consumed",
        "emitted",
        "writes / error",
        flex="writes / error",
        title="Checkpoints",
    )
    for c in checkpoints:
        history.add_row(
            str(c.seq),
            c.step,
            str(c.attempt) if c.attempt > 1 or c.error else "",
            f"+{max(c.created_at - record.created_at, 0.0):.3f}s",
            str(c.consumed),
            str(len(c.emitted)),
            _cut(f"failed: {c.error}" if c.error else ", ".join(_user_keys(c.writes))),
        )
    out.print()
    _emit(out, history)

    keys = sorted(_user_keys(loaded.context_state))
    out.print()
    if not keys:
        out.print(f"Context at commit {loaded.seq}: empty", markup=False)
    else:
        title = f"Context at commit {loaded.seq} ({_plural(len(keys), 'key')})"
        context = _table("key", "kind", "size", "value", flex="value", title=title)
        context.columns[2].justify = "right"
        for key in keys:
            sv: StateValue = loaded.context_state[key]
            context.add_row(key, sv.kind, fmt_size(state_size(sv)), _cut(state_preview(sv, 200)))
        _emit(out, context)
    if loaded.pending:
        pending = _plural(len(loaded.pending), "event")
        out.print(f"{pending} pending (see `blazen runs events {record.run_id}`)", markup=False)


def _user_keys(keys: Iterable[str]) -> list[str]:
    """The context keys a user wrote (the engine's own, ``__blazen__...``, left out)."""
    return [k for k in keys if not k.startswith(_RESERVED)]


def _record_lines(record: RunRecord, result: StateValue | None) -> list[tuple[str, Any]]:
    lines: list[tuple[str, Any]] = [
        ("workflow", record.workflow_name),
        ("status", status_text(record.status)),
        ("last seq", str(record.last_seq)),
        ("created", fmt_time(record.created_at)),
        ("updated", fmt_time(record.updated_at)),
    ]
    if record.owner:
        lines.append(("owner", record.owner))
        if record.lease_until is not None:
            left = record.lease_until - time.time()
            ends = f"ends in {left:.1f} s" if left > 0 else "expired"
            lines.append(("lease", f"epoch {record.epoch}, {ends}"))
    if record.cancel_requested:
        lines.append(("cancel", Text("requested (its owner stops it)", style="yellow")))
    meta = record.metadata if isinstance(record.metadata, dict) else {}
    forked = meta.get("forked_from")
    if isinstance(forked, dict):
        lines.append(("forked from", f"{forked.get('run_id')} at commit {forked.get('seq')}"))
    if meta.get("resumed_from"):
        lines.append(("resumed from", str(meta["resumed_from"])))
    if record.error:
        lines.append(("error", Text(record.error, style="red")))
    if result is not None:
        lines.append(("result", state_preview(result, 400)))
    return lines


# -- events --------------------------------------------------------------------------------


def show_events(option: str | None, run_id: str) -> None:
    """``blazen runs events``: every event with its emitting and consuming commits."""
    store, label = _open(option)

    async def work() -> tuple[str, list[tuple[int, PendingEvent, int | None]]]:
        full = (await resolve_run(store, run_id, label)).run_id
        return full, await store.events(full)

    full, events = run_with_store(store, work)
    table = _table("seq", "event", "from", "to", "handled", "data", flex="data")
    pending = 0
    for seq, event, consumed in events:
        if consumed is None:
            pending += 1
        table.add_row(
            str(seq),
            event.event_type,
            event.source_step or "-",
            event.target_step or "-",
            Text("pending", style="yellow") if consumed is None else f"seq {consumed}",
            _cut(preview_event_data(event.event_type, event.data, 200)),
        )
    _emit(console(), table, f"{_plural(len(events), 'event')} of run {full}, {pending} pending")


# -- resume / fork helpers -----------------------------------------------------------------


def _waits(state: dict[str, StateValue]) -> list[InputWait]:
    """The input requests a stored run waits on (kept under a reserved context key)."""
    sv = state.get(WAITING_STATE_KEY)
    if not isinstance(sv, StateValue.Json) or not isinstance(sv.value, dict):
        return []
    waits = []
    for request_id, entry in sv.value.items():
        event = entry.get("event") if isinstance(entry, dict) else None
        prompt = event.get("prompt", "") if isinstance(event, dict) else ""
        waits.append(InputWait(str(request_id), str(prompt)))
    return waits


async def check_forkable(store: CheckpointStore, run_id: str, seq: int | None, label: str) -> str:
    """The full id of the run RUN_ID names, which has commit ``seq``."""
    record = await resolve_run(store, run_id, label)
    if seq is not None and seq > record.last_seq:
        raise CliError(f"run {record.run_id} has no commit {seq} (its last is {record.last_seq})")
    return record.run_id


async def check_resumable(
    store: CheckpointStore, run_id: str, workflow: str, target: str, label: str
) -> str:
    """The full id of the run RUN_ID names, which belongs to ``workflow`` and has not ended
    (a failed run may resume)."""
    record = await resolve_run(store, run_id, label)
    run_id = record.run_id
    if record.workflow_name != workflow:
        raise CliError(
            f"run {run_id} is a run of workflow {record.workflow_name!r}, but {target} is "
            f"workflow {workflow!r}"
        )
    if record.status in ("completed", "cancelled"):
        raise CliError(
            f"run {run_id} is already {record.status}: there is nothing to resume (start a new "
            f"run from one of its commits with `blazen runs fork {run_id} {target} --seq N`)"
        )
    return run_id


# -- export / delete -----------------------------------------------------------------------


def export(
    option: str | None, run_id: str, output: str | None, seq: int | None, as_json: bool
) -> None:
    """``blazen runs export``: a snapshot file for ``Workflow.resume``."""
    store, label = _open(option)

    async def work() -> tuple[str, WorkflowSnapshot]:
        full = (await resolve_run(store, run_id, label)).run_id
        try:
            return full, await export_run(store, full, seq)
        except StoreError as exc:
            raise CliError(str(exc)) from exc

    run_id, snapshot = run_with_store(store, work)
    data = snapshot.to_json().encode() if as_json else snapshot.to_bytes()
    out = console(stderr=output == "-")
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        suffix = "" if seq is None else f"-{seq}"
        path = output or f"{run_id}{suffix}.{'json' if as_json else 'msgpack'}"
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise CliError(f"cannot write {path!r}: {exc.strerror or exc}") from exc
        out.print(f"wrote {path} ({fmt_size(len(data))}, {len(data)} bytes)", markup=False)
    at = snapshot.metadata.get("seq")
    waiting = snapshot.metadata.get(WAITING_KEY) or []
    out.print(
        f"  run {run_id} at commit {at}: {_plural(len(snapshot.context_state), 'context key')}, "
        f"{_plural(len(snapshot.pending_events), 'pending event')}",
        markup=False,
    )
    if not snapshot.pending_events and not waiting:
        out.print(
            "  note: nothing is left to run at this commit (the run had ended): resuming "
            "this snapshot ends at once with RunStalledError; export an earlier commit with "
            "--seq N, or start a new run from one with `blazen runs fork`",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )


def delete(option: str | None, run_id: str, yes: bool) -> None:
    """``blazen runs delete``: asks first unless ``--yes``."""
    store, label = _open(option)
    try:
        record = run_with_store(store, lambda: resolve_run(store, run_id, label), close=False)
        run_id = record.run_id
        question = (
            f"Delete run {run_id} ({record.workflow_name}, {record.status}, "
            f"last seq {record.last_seq}) from {label}?"
        )
        if not yes and not typer.confirm(question):
            raise CliError("nothing deleted")
        run_with_store(store, lambda: store.delete_run(run_id), close=False)
    finally:
        asyncio.run(store.close())
    console().print(f"deleted run {run_id} from {label}", markup=False)
