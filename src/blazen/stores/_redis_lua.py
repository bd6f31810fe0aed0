"""The Redis store's Lua scripts: each one runs atomically on the server (``EVALSHA``).

Every key of a store starts with the same hash tag (``{name}:``), so a script may touch
keys it builds from the prefix (``ARGV[1]``) as well as those it is given: they all live in
one slot. A write script validates everything before its first write (Lua cannot roll back)
and answers a reply code instead of raising, which the client maps to a ``StoreError``.

The texts are ``_lua/<name>.lua``, each opening with its KEYS and ARGV. The lease, queue and
control scripts (key layout and rules: ``_redis_lease.py`` and docs/stores.md) share the
helpers of ``common.lua``. ``WRITE`` wraps ``COMMIT`` (its text unchanged, at ``--@COMMIT``)
in a function: a prelude pops its own arguments and checks the fencing epoch, a postlude
applies the lease rules.
"""

from __future__ import annotations

from blazen.stores._lua import script

__all__ = [
    "OK",
    "R_CONFLICT",
    "R_DUPLICATE",
    "R_EXISTS",
    "R_FINISHED",
    "R_MISSING_BLOBS",
    "R_NOT_PENDING",
    "R_UNKNOWN",
    "SCRIPTS",
]

OK, R_CONFLICT, R_UNKNOWN, R_NOT_PENDING, R_DUPLICATE, R_MISSING_BLOBS, R_EXISTS = range(7)
R_FINISHED = 8
"""``WRITE`` in ``post`` mode: the run is finished."""

_PLAIN = ("COMMIT", "DELETE", "CLAIM", "LIST", "INIT", "FORGET", "MIGRATE")
_LEASE = (
    "CLAIM_LEASED",
    "ACQUIRE",
    "ACQUIRE_NEXT",
    "HOLDERS",
    "RENEW",
    "END_LEASE",
    "FLAG_CANCEL",
    "REQUEUE",
    "INBOX",
)


def _scripts() -> dict[str, str]:
    texts = {name: script(name.lower()) for name in _PLAIN}
    common = script("common")
    texts.update({name: common + script(name.lower()) for name in _LEASE})
    texts["WRITE"] = common + script("write").replace("--@COMMIT\n", texts["COMMIT"])
    return texts


SCRIPTS = _scripts()
"""Every script by the name the store calls it (registered on each loop's client)."""
