"""The live dashboard's pages on the intake's HTTP service: ``/dashboard`` (every active campaign and transactional
flow; ``?every=N`` refreshes every N seconds), ``/dashboard/panel`` (the same figures as an HTML fragment, asked
again by the page while it is open), ``/dashboard/login``.

Access: scope ``reports:read``, checked by the intake's guard on the key of the login cookie or an
``Authorization: Bearer`` header (``processors.access.pages``); no key: the login page. The figures come from the
intake's ``StatusReader`` (the ``campaign-status`` table it follows live); Jinja2 escapes everything shown (campaign
ids, variant names and button labels come from callers), and a Content-Security-Policy lets the page run only its own
nonce'd script and connect only to itself.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from processors.access.guard import AccessDenied
from processors.access.pages import Guard, keep_key, page_grant
from processors.access.scopes import required_scope
from processors.dashboard.view import THRESHOLD, active
from processors.runtime.stage import Event

COOKIE = "courrier_dashboard_key"
PATH = "/dashboard"
_PAGES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "pages"),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _PAGES.get_template(name).render(nonce=nonce, threshold=f"{THRESHOLD * 100:g} %", **context)
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; "
              "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})


def _scope(request: Request) -> str:
    """The page's scope, from the one table of every endpoint's scope (``processors.access.scopes``)."""
    scope = required_scope(request.method, request.scope["route"].path)
    assert scope is not None, "every dashboard page but the login is declared with a scope"
    return scope


def add_dashboard(app: FastAPI, guard: Guard | None, rows: Callable[[], Iterable[Event]], *,
                  window: timedelta = timedelta(hours=48), poll_s: float = 5.0,
                  clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
    """Mount the dashboard on ``app``: ``guard`` is the intake's (None: access control off), ``rows`` every row of the
    ``campaign-status`` table (``StatusReader.campaign_rows``); campaigns and flows with a receipt within ``window``
    are shown, and the page asks for fresh figures every ``poll_s`` seconds."""

    def context() -> dict[str, Any]:
        now = clock()
        return {"flows": active(rows(), now, window), "now": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "window_hours": f"{window / timedelta(hours=1):g}"}

    async def dashboard(request: Request, every: float | None = Query(None, ge=1, le=300)) -> Response:
        """``every``: seconds between two refreshes of the figures (default ``poll_s``)."""
        grant = await page_grant(request, guard, _scope(request), COOKIE)
        if isinstance(grant, AccessDenied):
            if grant.status == 401:
                return RedirectResponse(f"{PATH}/login?reason={grant.code}", status_code=303)
            return _page("denied.html", grant.status, message=grant.message, now="")
        return _page("dashboard.html", poll_ms=int((every or poll_s) * 1000), **context())

    async def panel(request: Request) -> Response:
        grant = await page_grant(request, guard, _scope(request), COOKIE)
        if isinstance(grant, AccessDenied):  # the page reloads into the login page on its next full load
            return HTMLResponse(f"<p class=\"issues\">{grant.code}</p>", status_code=grant.status,
                                headers={"Cache-Control": "no-store"})
        return _page("panel.html", **context())

    def login_page(reason: str | None = None) -> Response:
        return _page("login.html", reason=reason, now="")

    async def login(request: Request) -> Response:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=5)
        key = (fields.get("key") or [""])[-1].strip()[:512]
        return keep_key(RedirectResponse(PATH, status_code=303), COOKIE, key, PATH)

    for method, path, endpoint in (("GET", PATH, dashboard), ("GET", f"{PATH}/panel", panel),
                                   ("GET", f"{PATH}/login", login_page), ("POST", f"{PATH}/login", login)):
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False, response_class=HTMLResponse)
