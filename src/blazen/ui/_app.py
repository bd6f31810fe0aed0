"""The viewer's Starlette app: the runs list, the run page, their JSON twins and the actions."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from blazen.errors import StoreError
from blazen.stores.base import CheckpointStore
from blazen.ui._actions import ActionError, RunActions, StoreActions
from blazen.ui._data import STATUSES, NotFound, duration, get_record, run_detail, run_list
from blazen.ui._pages import Pages, UiOptions
from blazen.ui._security import Guard, GuardMiddleware, csrf_ok, read_form

__all__ = ["UiOptions", "create_app"]

_STATIC = Path(__file__).with_name("static")
_DONE = {
    "respond": "Answer recorded: a worker continues the run.",
    "cancel": "Cancellation requested.",
    "resume": "Run queued: a worker continues it from its last commit.",
    "fork": "Forked: this new run is paused until a worker (or `blazen runs resume`) takes it.",
}


def create_app(
    store: CheckpointStore,
    *,
    token: str | None = None,
    allow_actions: bool = False,
    allowed_hosts: Sequence[str] | None = None,
    actions: RunActions | None = None,
    page_size: int = 25,
    poll_seconds: float = 2.0,
    store_label: str = "",
    close_store: bool = False,
) -> Starlette:
    """The viewer of ``store``: pages, JSON endpoints and (with ``allow_actions``) actions.

    ``token`` makes every request need it; ``allowed_hosts`` limits the ``Host`` header
    (for a server on 127.0.0.1, against DNS rebinding); ``close_store`` closes the store
    when the app shuts down.
    """
    hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
    guard = Guard(token, hosts)
    options = UiOptions(allow_actions, page_size, poll_seconds, store_label)
    views = _Views(store, options, guard, actions or StoreActions(store))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_store:
                await store.close()

    middleware = [Middleware(GuardMiddleware, guard=guard)]
    routes = [
        Route("/", views.runs_page),
        Route("/api/runs", views.runs_json),
        Route("/runs/{run_id:path}/respond", views.respond, methods=["POST"]),
        Route("/runs/{run_id:path}/cancel", views.cancel, methods=["POST"]),
        Route("/runs/{run_id:path}/resume", views.resume, methods=["POST"]),
        Route("/runs/{run_id:path}/fork", views.fork, methods=["POST"]),
        Route("/api/runs/{run_id:path}", views.run_json),
        Route("/runs/{run_id:path}", views.run_page),
        Mount("/static", StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.views = views
    return app


class _Views:
    """The endpoints, sharing the store, the options and the guard."""

    def __init__(
        self, store: CheckpointStore, options: UiOptions, guard: Guard, actions: RunActions
    ) -> None:
        self.store = store
        self.options = options
        self.guard = guard
        self.actions = actions
        self.pages = Pages(options, guard.csrf)

    # -- reading -----------------------------------------------------------------------

    def _filters(self, request: Request) -> tuple[str | None, str | None, int]:
        q = request.query_params
        status = q.get("status") or None
        if status is not None and status not in STATUSES:
            raise _BadRequest(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
        page_text = q.get("page") or "0"
        if not page_text.isdigit() or int(page_text) > 100_000:
            raise _BadRequest(f"bad page number {page_text!r}")
        return q.get("workflow") or None, status, int(page_text)

    async def runs_page(self, request: Request) -> Response:
        """``GET /``: the runs list."""
        return await self._guarded(request, self._runs_page)

    async def _runs_page(self, request: Request) -> Response:
        workflow, status, page = self._filters(request)
        listing = await run_list(
            self.store, workflow=workflow, status=status, page=page, size=self.options.page_size
        )
        return HTMLResponse(self.pages.runs(listing, workflow, status))

    async def runs_json(self, request: Request) -> Response:
        """``GET /api/runs``: the same page as JSON (polled by the list's live refresh)."""
        return await self._guarded(request, self._runs_json)

    async def _runs_json(self, request: Request) -> Response:
        workflow, status, page = self._filters(request)
        listing = await run_list(
            self.store, workflow=workflow, status=status, page=page, size=self.options.page_size
        )
        return JSONResponse(
            {
                "runs": [r.to_json() for r in listing.rows],
                "page": listing.page,
                "has_more": listing.has_more,
            }
        )

    async def run_page(self, request: Request) -> Response:
        """``GET /runs/{id}``: one run (``?seq=N`` picks the commit whose context is shown)."""
        return await self._guarded(request, self._run_page)

    async def _run_page(self, request: Request) -> Response:
        seq_text = request.query_params.get("seq")
        if seq_text is not None and not seq_text.isdigit():
            raise _BadRequest(f"bad commit number {seq_text!r}")
        seq = int(seq_text) if seq_text is not None else None
        detail = await run_detail(self.store, request.path_params["run_id"], seq)
        done = _DONE.get(request.query_params.get("done", ""))
        return HTMLResponse(self.pages.run(detail, explicit_seq=seq is not None, notice=done))

    async def run_json(self, request: Request) -> Response:
        """``GET /api/runs/{id}``: the run's record (polled by the run page)."""
        return await self._guarded(request, self._run_json)

    async def _run_json(self, request: Request) -> Response:
        r = await get_record(self.store, request.path_params["run_id"])
        return JSONResponse({**r.summary(), "duration": duration(r)})

    # -- actions -----------------------------------------------------------------------

    async def respond(self, request: Request) -> Response:
        """``POST /runs/{id}/respond``: answer an input request (``request_id``, ``response``)."""

        async def act(run_id: str, form: dict[str, str]) -> str:
            request_id = form.get("request_id", "")
            if not request_id:
                raise _BadRequest("respond needs a request_id")
            await self.actions.respond(run_id, request_id, _parse_answer(form.get("response", "")))
            return run_id

        return await self._action(request, "respond", act)

    async def cancel(self, request: Request) -> Response:
        """``POST /runs/{id}/cancel``."""

        async def act(run_id: str, form: dict[str, str]) -> str:
            await self.actions.cancel(run_id)
            return run_id

        return await self._action(request, "cancel", act)

    async def resume(self, request: Request) -> Response:
        """``POST /runs/{id}/resume``."""

        async def act(run_id: str, form: dict[str, str]) -> str:
            await self.actions.resume(run_id)
            return run_id

        return await self._action(request, "resume", act)

    async def fork(self, request: Request) -> Response:
        """``POST /runs/{id}/fork`` with ``seq``: a new run from that commit."""

        async def act(run_id: str, form: dict[str, str]) -> str:
            record = await get_record(self.store, run_id)
            text = form.get("seq", "")
            if not text.isdigit():
                raise _BadRequest(f"fork needs a commit number, got {text!r}")
            if int(text) > record.last_seq:
                raise NotFound(f"run {run_id} has no commit {text} (its last is {record.last_seq})")
            return await self.actions.fork(run_id, int(text))

        return await self._action(request, "fork", act)

    async def _action(self, request: Request, name: str, act: Any) -> Response:
        if not self.options.allow_actions:
            return self._error(
                request, 403, "actions are disabled: start `blazen ui` with --allow-actions"
            )
        if not await csrf_ok(request, self.guard):
            return self._error(
                request, 403, "forbidden: missing or wrong CSRF token (reload the page and retry)"
            )
        form = await read_form(request)

        async def run(req: Request) -> Response:
            run_id = req.path_params["run_id"]
            await get_record(self.store, run_id)
            target = await act(run_id, form)
            if "json" in req.headers.get("accept", ""):
                return JSONResponse({"ok": True, "action": name, "run_id": target})
            return RedirectResponse(f"/runs/{target}?done={name}", status_code=303)

        return await self._guarded(request, run)

    # -- errors ------------------------------------------------------------------------

    async def _guarded(self, request: Request, handler: Any) -> Response:
        try:
            response: Response = await handler(request)
            return response
        except _BadRequest as exc:
            return self._error(request, 400, str(exc))
        except NotFound as exc:
            return self._error(request, 404, str(exc))
        except ActionError as exc:
            return self._error(request, exc.status, str(exc))
        except StoreError as exc:
            return self._error(request, 503, f"the store failed: {exc}")

    def _error(self, request: Request, status: int, message: str) -> Response:
        wants_json = request.url.path.startswith("/api/") or "json" in request.headers.get(
            "accept", ""
        )
        if wants_json:
            return JSONResponse({"error": message}, status_code=status)
        return HTMLResponse(self.pages.error(status, message), status_code=status)


class _BadRequest(Exception):
    """A malformed query or form value (HTTP 400)."""


def _parse_answer(text: str) -> Any:
    """An answer typed in the page: JSON when it parses (``true``, ``5``, ``{...}``), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text
