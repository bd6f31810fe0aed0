"""Who may use the viewer: the access token, the CSRF token of actions, security headers.

With a token, every request must carry it: ``Authorization: Bearer T``, ``X-Blazen-Token: T``
or the ``blazen_token`` cookie, which a ``?token=T`` link sets (and then redirects to the
same page without the token in its address). No token at all is answered 401, a wrong one
403. Actions (POST) also need the page's CSRF token, so another site cannot submit them
through the browser of someone who has the page open.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp

__all__ = ["COOKIE", "CSRF_FIELD", "Guard", "GuardMiddleware", "csrf_ok", "host_name", "read_form"]

COOKIE = "blazen_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_MAX_FORM = 1 << 20  # bytes of a form body read at most
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Guard:
    """The app's secrets: the access token (``None``: open) and the CSRF token of its forms."""

    token: str | None = None
    allowed_hosts: frozenset[str] | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _given_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-blazen-token") or request.cookies.get(COOKIE)


def _refuse(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/") or "json" in request.headers.get("accept", ""):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message + "\n", status_code=status)


def host_name(host: str) -> str:
    """The name in a ``Host`` header: ``[::1]:80`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0]


class GuardMiddleware(BaseHTTPMiddleware):
    """Checks the access token on every request and adds the security headers."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        super().__init__(app)
        self.guard = guard

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = self._check(request)
        if response is None:
            response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _check(self, request: Request) -> Response | None:
        """``None`` when the request may go on, else the refusal (or the cookie redirect)."""
        allowed = self.guard.allowed_hosts
        if allowed is not None and host_name(request.headers.get("host", "")) not in allowed:
            return _refuse(
                request, 400, "bad Host header: this viewer answers only on its local address"
            )
        token = self.guard.token
        if token is None:
            return None
        from_link = request.query_params.get("token")
        if from_link is not None:
            if not _same(from_link, token):
                return _refuse(request, 403, "forbidden: the token in the link is wrong")
            if request.method == "GET":
                return self._set_cookie(request, token)
            return None
        given = _given_token(request)
        if given is None:
            return _refuse(
                request,
                401,
                "unauthorized: this viewer needs its access token; open the link that "
                "`blazen ui` printed (it ends in ?token=...) or send Authorization: Bearer TOKEN",
            )
        if not _same(given, token):
            return _refuse(request, 403, "forbidden: wrong access token")
        return None

    def _set_cookie(self, request: Request, token: str) -> Response:
        """Remember the token in a cookie and drop it from the address."""
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


async def csrf_ok(request: Request, guard: Guard) -> bool:
    """Whether a POST carries the page's CSRF token (form field or header) and no foreign Origin."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            return False
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        given = (await read_form(request)).get(CSRF_FIELD)
    return given is not None and _same(given, guard.csrf)


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form body (the only kind the pages send), last value wins."""
    if "urlencoded" not in request.headers.get("content-type", "urlencoded"):
        return {}
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
