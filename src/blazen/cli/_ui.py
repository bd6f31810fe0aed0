"""``blazen ui``: serve the web viewer of a store's runs (needs the ``ui`` extra).

It binds 127.0.0.1 by default and then answers only requests addressed to a loopback
name (against DNS rebinding). Binding any other address needs ``--token``: every request
must then carry it (the printed link sets it as a cookie).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from typing import Any

from blazen.cli._common import EXIT_USAGE, CliError, console
from blazen.cli._target import open_cli_store, store_label, store_url

__all__ = ["LOOPBACK_NAMES", "is_loopback", "serve_ui"]

LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
_UI_DEPS = frozenset({"starlette", "uvicorn", "jinja2", "markupsafe", "anyio"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _imports() -> tuple[Any, Any]:
    """``(uvicorn, blazen.ui.create_app)``, or a ``CliError`` naming the missing extra."""
    try:
        import uvicorn

        from blazen.ui import create_app
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in _UI_DEPS:
            raise
        raise CliError(
            f"`blazen ui` needs the ui extra ({exc.name} is missing): pip install 'pyblazen[ui]'"
        ) from exc
    return uvicorn, create_app


def serve_ui(
    option: str | None,
    host: str,
    port: int,
    token: str | None,
    allow_actions: bool,
) -> None:
    """Check the options, open the store and serve until interrupted."""
    loopback = is_loopback(host)
    if not loopback and not token:
        raise CliError(
            f"refusing to serve on {host} without --token: anyone who can reach this address "
            f"could read every run (pass --token SECRET, or keep the default --host 127.0.0.1)",
            EXIT_USAGE,
        )
    if token is not None and len(token) < 8:
        raise CliError("--token must be at least 8 characters long", EXIT_USAGE)
    uvicorn, create_app = _imports()
    url = store_url(option)
    store = open_cli_store(url, must_exist=True)
    label = store_label(store)  # no password on the page or the terminal
    hosts = [*LOOPBACK_NAMES, host] if loopback else None
    app = create_app(
        store,
        token=token,
        allow_actions=allow_actions,
        allowed_hosts=hosts,
        store_label=label,
        close_store=True,
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    asyncio.run(_serve(_ready_server(uvicorn)(config), host, token, label, allow_actions))


def _ready_server(uvicorn: Any) -> Any:
    """A ``uvicorn.Server`` that sets ``ready`` once it listens."""

    class ReadyServer(uvicorn.Server):  # type: ignore[misc]
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            self.ready.set()

    return ReadyServer


async def _serve(server: Any, host: str, token: str | None, label: str, actions: bool) -> None:
    """Run the server; once it listens, print its address (the real port when 0 was asked)."""
    server.ready = asyncio.Event()
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if server.started:
        port = server.servers[0].sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        link = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        out = console()
        out.print(f"blazen ui: runs of {label}", markup=False, highlight=False)
        out.print(f"  open {link}", markup=False, highlight=False, soft_wrap=True)
        out.print(
            "  actions: " + ("enabled (--allow-actions)" if actions else "disabled"),
            markup=False,
            highlight=False,
        )
        sys.stdout.flush()
    await task
    if not server.started:
        raise CliError(f"could not serve on {host}: see the message above")
