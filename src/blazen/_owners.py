"""Owner ids of run leases (``host:pid:random``), and whether an owner can still be alive.

Every claim on a run is made under a fresh owner id. A lease whose owner is a process of
this host that no longer exists, or a run of this very process that has ended without
releasing it (its event loop was closed, or it was halted), counts as expired at once: a
recovery right after a crash on one machine needs no wait for the lease to run out.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable

__all__ = ["HOST", "forget", "is_dead", "live", "new_owner", "parse_owner"]

HOST = socket.gethostname()
_live: dict[str, Callable[[], bool]] = {}
_mutex = threading.Lock()


def new_owner() -> str:
    """A unique owner id for one claim on a run: ``host:pid:random``."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(6)}"


def parse_owner(owner: str) -> tuple[str, int] | None:
    """``(host, pid)`` of an owner id, or ``None`` when it is not ``host:pid:random``."""
    host, sep, rest = owner.rpartition(":")
    host, sep2, pid = host.rpartition(":")
    if not (sep and sep2 and host and pid.isdigit() and rest):
        return None
    return host, int(pid)


def live(owner: str, alive: Callable[[], bool]) -> None:
    """Register a claim of this process; ``alive()`` says whether it is still in use."""
    with _mutex:
        _live[owner] = alive


def forget(owner: str) -> None:
    """The claim ended (released, lost, or its run finished)."""
    with _mutex:
        _live.pop(owner, None)


def is_dead(owner: str) -> bool:
    """Whether ``owner`` is known not to hold its lease any more (see the module docstring).

    Only owners of this host can be known dead; any other owner may be alive.
    """
    parsed = parse_owner(owner)
    if parsed is None or parsed[0] != HOST:
        return False
    pid = parsed[1]
    if pid == os.getpid():
        with _mutex:
            alive = _live.get(owner)
        return alive is None or not alive()
    return not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited but was not reaped yet (``/proc``, where there is one)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    end = stat.rfind(b")")
    return end >= 0 and stat[end + 2 : end + 3] == b"Z"
