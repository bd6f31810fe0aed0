"""Where a store keeps its data, as a URL without credentials (for messages and headers)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["public_url"]

_SECRET_PARAMS = frozenset({"password", "sslpassword"})


def public_url(url: str, *extra: tuple[str, str]) -> str:
    """``url`` without its password (in the netloc or the query), with ``extra`` query pairs.

    The user name, host, port, path and other query parameters are kept, so the result
    names the server and database without giving anything away.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    user = f"{parts.username}@" if parts.username else ""
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _SECRET_PARAMS
    ]
    query.extend(extra)
    return urlunsplit((parts.scheme, user + host + port, parts.path, urlencode(query), ""))
