"""The template studio: HTML pages on the intake's HTTP service to list, create, edit and preview templates.

Pages: ``/studio`` (list), ``/studio/new?starter=…`` (a starter's text), ``/studio/templates/{id}`` (an id's history
and its latest version in the editor; ``…/publish`` publishes a version, ``…/diff?a=1&b=2`` compares two), ``POST /studio/preview`` (the preview pane, asked by the editor's script as the
text changes), ``POST /studio/save`` (store a version: with any issue the editor comes back with every issue, field
and rule, and nothing is stored), ``/studio/login``.

Access: each page needs the scope ``processors.access.scopes`` declares for it, checked by the intake's guard on the
API key kept in an HttpOnly, SameSite=Strict cookie set by the login page (or sent as ``Authorization: Bearer``). No
key: the login page; a key without the scope: 403. Everything shown is escaped by Jinja2's autoescape, and a
Content-Security-Policy lets pages run only their own nonce'd script and load no image or script from elsewhere
(a card's image is drawn as a placeholder naming its URL, so a preview never fetches a URL someone typed).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape

from processors.access.guard import AccessDenied
from processors.access.scopes import required_scope
from processors.studio.preview import preview
from processors.templates_store.api import TemplateWriter, summaries
from processors.rules.template_versions import Refused, source_diff

COOKIE = "courrier_studio_key"
STARTERS_DIR = Path(__file__).resolve().parent / "starters"
STARTERS = {path.stem: path for path in sorted(STARTERS_DIR.glob("*.toml"))}
MAX_FORM_FIELD = 64_000
# What the editor's toolbar inserts at the cursor: each part a template can hold, in the shapes of processors/rules/rcs.py.
SNIPPETS = {
    "SMS fallback": '\n[sms]\ndefault = "Hello {{ first_name }}"\n',
    "RCS text": '\n[rcs]\ntext = "Hello {{ first_name }}"\n',
    "Rich card": '\n[rcs]\ntitle = "Title"\ndescription = "Description"\nmedia_url = "https://example.com/image.jpg"\n',
    "Carousel card": '\n[[rcs.carousel]]\ntitle = "Card"\ndescription = "Description"\n'
                     'media_url = "https://example.com/card.jpg"\nsuggestions = [{ type = "open_url", text = "Open", url = "https://example.com" }]\n',
    "Reply button": '{ type = "reply", text = "Yes" }',
    "Link button": '{ type = "open_url", text = "Open", url = "https://example.com" }',
    "Call button": '{ type = "dial", text = "Call us", phone_number = "+33140000000" }',
    "MMS image": '\n[mms]\nmedia_urls = ["https://example.com/image.jpg"]\n',
}
_PAGES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "pages"),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def starter_source(name: str) -> str | None:
    """The TOML text of a starter template (promotion, order_confirmation, delivery_notification, re_engagement)."""
    path = STARTERS.get(name)
    return path.read_text(encoding="utf-8") if path else None


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _PAGES.get_template(name).render(nonce=nonce, **context)
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; "
              "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})


def add_pages(app: FastAPI, guard: Callable[[str], Callable[..., Any]] | None, writer: TemplateWriter,
              prices: Callable[[], Mapping[str, Any]]) -> None:
    """Mount the studio's pages on ``app``; ``guard`` is the intake's (None: access control off), ``prices`` gives the
    deployment's price table for estimated costs."""

    async def allowed(request: Request) -> Response | str:
        """The key id the page's scope lets through ('' without access control), or the page that refuses."""
        if guard is None:
            return ""
        scope = required_scope(request.method, request.scope["route"].path)
        assert scope is not None
        token = request.cookies.get(COOKIE)
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
        try:
            return await guard(scope)(request=request, credentials=credentials)
        except AccessDenied as denied:
            if denied.status == 401:
                return RedirectResponse(f"/studio/login?reason={denied.code}", status_code=303)
            return _page("denied.html", denied.status, message=denied.message)

    def author(key_id: str) -> str:
        return f"api-key:{key_id}" if key_id else "studio"

    async def form(request: Request) -> dict[str, str]:
        # Pages post application/x-www-form-urlencoded (forms, and the editor's script): the standard library reads it.
        try:
            fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
        except ValueError:  # more fields than any studio form has
            return {}
        return {name: values[-1][:MAX_FORM_FIELD] for name, values in fields.items()}

    def region_of(data: Mapping[str, str]) -> str:
        return (data.get("region") or "FR").strip().upper()[:2] or "FR"

    def editor(status: int = 200, **context: Any) -> HTMLResponse:
        region = context.pop("region", "FR")
        shown = preview(context["source"], context.get("sample", ""), prices(), region)
        return _page("edit.html", status, preview=shown, region=region, starters=list(STARTERS), snippets=SNIPPETS, **context)

    async def list_page(request: Request) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        return _page("list.html", templates=summaries(writer.index), starters=list(STARTERS))

    async def new_page(request: Request, starter: str = "promotion") -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        source = starter_source(starter)
        if source is None:
            return _page("denied.html", 404, message=f"no starter {starter!r}; starters: {', '.join(STARTERS)}")
        return editor(source=source, history=[], template_id=None)

    async def edit_page(request: Request, template_id: str, saved: int | None = None, published: int | None = None) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        versions = writer.index.versions(template_id)
        if not versions:
            return _page("denied.html", 404, message=f"no template {template_id!r}")
        done = f"v{saved} saved as a draft" if saved else f"v{published} published: requests without a version get it" if published else None
        return editor(source=versions[max(versions)]["source"], history=list(versions.values()), template_id=template_id, done=done)

    async def preview_pane(request: Request) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        data = await form(request)
        shown = preview(data.get("source", ""), data.get("sample", ""), prices(), region_of(data))
        return _page("preview.html", preview=shown)

    async def save(request: Request) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        data = await form(request)
        source, note = data.get("source", ""), data.get("note", "").strip() or None
        outcome = writer.push(source, author(grant), note, data.get("publish") == "on")
        if isinstance(outcome, (list, str)):
            problems = outcome if isinstance(outcome, list) else []
            failure = None if problems else f"not saved: Kafka did not take it ({outcome}); save again"
            return editor(422 if problems else 503, source=source, sample=data.get("sample", ""), note=note or "", region=region_of(data),
                          history=[], template_id=None, problems=problems, failure=failure)
        return RedirectResponse(f"/studio/templates/{outcome.value['template_id']}?saved={outcome.value['version']}", status_code=303)

    async def publish_page(request: Request, template_id: str) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        number = (await form(request)).get("version", "")
        if not number.isdigit():
            return _page("denied.html", 422, message="version: give the version number to publish")
        outcome = writer.publish(template_id, int(number), author(grant))
        if isinstance(outcome, Refused):
            return _page("denied.html", 422 if outcome.reason == "invalid_template" else 404, message=outcome.detail)
        if isinstance(outcome, str):
            return _page("denied.html", 503, message=f"not published: Kafka did not take it ({outcome}); publish again")
        return RedirectResponse(f"/studio/templates/{template_id}?published={number}", status_code=303)

    async def diff_page(request: Request, template_id: str, a: int, b: int) -> Response:
        grant = await allowed(request)
        if isinstance(grant, Response):
            return grant
        versions = writer.index.versions(template_id)
        missing = [v for v in (a, b) if v not in versions]
        if missing:
            return _page("denied.html", 404, message=f"template {template_id!r} has no version {missing[0]}")
        lines = source_diff(template_id, versions[a], versions[b]).splitlines()
        return _page("diff.html", template_id=template_id, a=a, b=b, lines=lines)

    def login_page(reason: str | None = None) -> Response:
        return _page("login.html", reason=reason)

    async def login(request: Request) -> Response:
        data = await form(request)
        key = data.get("key", "").strip()
        response = RedirectResponse("/studio", status_code=303)
        # Secure whenever the page came over TLS (behind a proxy: run uvicorn with --proxy-headers so the scheme is right).
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/studio", secure=request.url.scheme == "https")
        return response

    pages: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/studio", list_page), ("GET", "/studio/new", new_page), ("GET", "/studio/templates/{template_id}", edit_page),
        ("POST", "/studio/preview", preview_pane), ("POST", "/studio/save", save),
        ("POST", "/studio/templates/{template_id}/publish", publish_page), ("GET", "/studio/templates/{template_id}/diff", diff_page),
        ("GET", "/studio/login", login_page), ("POST", "/studio/login", login),
    ]
    for method, path, endpoint in pages:
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False, response_class=HTMLResponse)
