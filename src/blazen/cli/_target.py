"""Command inputs: the workflow TARGET, ``--arg``/``--json-args`` values and the store.

A TARGET is ``path/to/file.py:attr`` or ``package.module:attr``; ``attr`` (dotted names
allowed) is a ``Workflow`` or a zero-argument callable returning one. Without ``:attr`` the
module's only ``Workflow`` is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from blazen import Workflow
from blazen._admit import live_values
from blazen.cli._common import EXIT_USAGE, CliError
from blazen.errors import StoreError
from blazen.stores import DEFAULT_STORE_ENV, DEFAULT_STORE_FILE, CheckpointStore, open_store

__all__ = [
    "attach_store",
    "load_workflow",
    "open_cli_store",
    "parse_args",
    "sqlite_file",
    "store_label",
    "store_url",
]


# -- TARGET --------------------------------------------------------------------------------


def load_workflow(target: str) -> Workflow:
    """Import TARGET and return its ``Workflow``; ``CliError`` naming the problem otherwise."""
    module_ref, attr = _split(target)
    if not module_ref:
        raise CliError(
            f"bad TARGET {target!r}: expected path/to/file.py:attr or module:attr", EXIT_USAGE
        )
    module = _import(target, module_ref)
    if attr is None:
        return _only_workflow(target, module)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            found = _workflows_in(module)
            hint = f" (workflows there: {', '.join(found)})" if found else ""
            raise CliError(
                f"bad TARGET {target!r}: {module_ref} has no attribute {attr!r}{hint}",
                EXIT_USAGE,
            )
        obj = getattr(obj, part)
    return _as_workflow(target, attr, obj)


def _split(target: str) -> tuple[str, str | None]:
    """``("x/y.py", "wf")`` from ``x/y.py:wf``; a Windows drive colon is not a separator."""
    head, sep, tail = target.rpartition(":")
    if not sep or not tail or "/" in tail or "\\" in tail or tail.endswith(".py"):
        return target, None
    return head, tail


def _looks_like_file(ref: str) -> bool:
    return ref.endswith(".py") or "/" in ref or os.sep in ref or os.path.isfile(ref)


def _import(target: str, ref: str) -> ModuleType:
    if _looks_like_file(ref):
        return _import_file(target, ref)
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(ref)
    except ModuleNotFoundError as exc:
        if exc.name and (ref == exc.name or ref.startswith(exc.name + ".")):
            raise CliError(
                f"bad TARGET {target!r}: no module named {exc.name!r} "
                f"(not a file either; run blazen from the project directory or set PYTHONPATH)",
                EXIT_USAGE,
            ) from None
        raise CliError(f"cannot import {ref!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise CliError(f"cannot import {ref!r}: {type(exc).__name__}: {exc}") from exc


def _import_file(target: str, ref: str) -> ModuleType:
    path = os.path.abspath(ref)
    if not os.path.isfile(path):
        raise CliError(f"bad TARGET {target!r}: no such file {ref!r}", EXIT_USAGE)
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        name = "_blazen_target"
    existing = sys.modules.get(name)
    if existing is not None:
        if os.path.abspath(getattr(existing, "__file__", "") or "") == path:
            return existing
        name = f"_blazen_target_{name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"bad TARGET {target!r}: cannot import {ref!r} as Python", EXIT_USAGE)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if not isinstance(exc, Exception):
            raise
        raise CliError(f"cannot import {ref!r}: {type(exc).__name__}: {exc}") from exc
    return module


def _workflows_in(module: ModuleType) -> list[str]:
    return sorted(k for k, v in vars(module).items() if isinstance(v, Workflow))


def _only_workflow(target: str, module: ModuleType) -> Workflow:
    found = _workflows_in(module)
    if len(found) == 1:
        wf: Workflow = getattr(module, found[0])
        return wf
    if not found:
        raise CliError(
            f"bad TARGET {target!r}: it defines no Workflow; name one as {target}:attr",
            EXIT_USAGE,
        )
    raise CliError(
        f"bad TARGET {target!r}: it defines several workflows ({', '.join(found)}); "
        f"pick one, e.g. {target}:{found[0]}",
        EXIT_USAGE,
    )


def _as_workflow(target: str, attr: str, obj: Any) -> Workflow:
    if isinstance(obj, Workflow):
        return obj
    if isinstance(obj, type) and not issubclass(obj, Workflow):
        raise CliError(
            f"bad TARGET {target!r}: {attr} is the class {obj.__name__}, not a Workflow",
            EXIT_USAGE,
        )
    if not callable(obj):
        raise CliError(
            f"bad TARGET {target!r}: {attr} is {_a(type(obj).__name__)}, not a Workflow",
            EXIT_USAGE,
        )
    try:
        made = obj()
    except TypeError as exc:
        raise CliError(
            f"bad TARGET {target!r}: {attr} is not a Workflow, and calling it with no "
            f"arguments failed: {exc}",
            EXIT_USAGE,
        ) from exc
    except Exception as exc:
        raise CliError(f"{attr}() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(made, Workflow):
        raise CliError(
            f"bad TARGET {target!r}: {attr}() returned {_a(type(made).__name__)}, not a Workflow",
            EXIT_USAGE,
        )
    return made


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


# -- run arguments -------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value here")


def _json(text: str, what: str) -> Any:
    """``json.loads``; a value nested too deeply for the parser is a usage error naming it."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
        too_deep = bool(live_values([value]))  # parsed JSON is all JSON unless too deep
    except RecursionError:
        too_deep = True
    if too_deep:  # Python 3.13's parser goes deeper than a run can carry the value
        raise CliError(
            f"{what}: the JSON value is nested too deeply to parse (Python's recursion limit)",
            EXIT_USAGE,
        ) from None
    return value


def _value(text: str, pair: str) -> Any:
    """JSON when it parses (numbers, true/false/null, "quoted", [lists], {maps}), else the text."""
    try:
        return _json(text, f"bad --arg {_short(pair)}")
    except ValueError:
        return text


def _short(text: str, limit: int = 40) -> str:
    """``repr`` of an argument, cut to ``limit`` characters (a deep JSON value is huge)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_args(pairs: Sequence[str], json_args: str | None) -> dict[str, Any]:
    """The run's keyword arguments: ``--json-args`` first, then each ``--arg k=v``."""
    kwargs: dict[str, Any] = {}
    if json_args is not None:
        try:
            loaded = _json(json_args, "bad --json-args")
        except ValueError as exc:
            raise CliError(f"--json-args is not valid JSON: {exc}", EXIT_USAGE) from None
        if not isinstance(loaded, dict):
            raise CliError(
                f"--json-args must be a JSON object, not {type(loaded).__name__}", EXIT_USAGE
            )
        kwargs.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise CliError(f"bad --arg {pair!r}: expected NAME=VALUE", EXIT_USAGE)
        if not key.isidentifier():
            raise CliError(f"bad --arg {pair!r}: {key!r} is not a valid argument name", EXIT_USAGE)
        kwargs[key] = _value(raw, pair)
    for key in kwargs:
        if not isinstance(key, str) or not key.isidentifier():
            raise CliError(f"bad argument name {key!r}: not a valid identifier", EXIT_USAGE)
    return kwargs


# -- the store -----------------------------------------------------------------------------


def store_url(option: str | None) -> str:
    """``--store``, else ``$BLAZEN_STORE``, else ``blazen.db`` in the working directory.

    An empty ``--store ''`` is a usage error (the docs call an empty URL an error); an empty
    ``$BLAZEN_STORE`` counts as unset, as environment variables usually do.
    """
    if option is not None:
        if not option.strip():
            raise CliError(
                "empty --store URL: pass a URL such as 'sqlite:///runs.db' or a file path, "
                f"or leave --store out for ${DEFAULT_STORE_ENV} or ./{DEFAULT_STORE_FILE}",
                EXIT_USAGE,
            )
        return option
    return os.environ.get(DEFAULT_STORE_ENV) or DEFAULT_STORE_FILE


def sqlite_file(url: str) -> str | None:
    """The file path when ``url`` names an SQLite store, else ``None``."""
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() != "sqlite":
        return None
    from blazen.stores.sqlite import sqlite_path

    return sqlite_path(url)


def open_cli_store(url: str, *, must_exist: bool) -> CheckpointStore:
    """Open the store; with ``must_exist``, a missing SQLite file is an error (not created)."""
    path = sqlite_file(url)
    if must_exist and path is not None and not os.path.exists(path):
        raise CliError(
            f"no blazen store at {path!r} (nothing has run here; pass --store URL or set "
            f"${DEFAULT_STORE_ENV})"
        )
    try:
        return open_store(url)
    except StoreError as exc:
        raise CliError(str(exc)) from exc


def store_label(store: CheckpointStore) -> str:
    """Where ``store`` keeps its runs, for messages: its ``location`` (a file path, or a URL
    without its password), else its class name (a store that does not say)."""
    location = getattr(store, "location", None)
    return location if isinstance(location, str) and location else type(store).__name__


def attach_store(
    wf: Workflow, option: str | None, *, must_exist: bool = False
) -> tuple[Workflow, CheckpointStore, str]:
    """The workflow made durable: ``--store`` wins, then the workflow's own store, then the
    default. Returns ``(workflow, store, label for messages)``."""
    if option is None and wf.store is not None:
        return wf, wf.store, store_label(wf.store)
    url = store_url(option)
    store = open_cli_store(url, must_exist=must_exist)
    durable = Workflow(
        wf.name,
        wf.steps,
        timeout=wf.timeout,
        session_pause_policy=wf.session_pause_policy,
        store=store,
    )
    return durable, store, store_label(store)
