"""API keys for HTML pages: a page's key comes from an HttpOnly, SameSite=Strict cookie set by its login form (or from
``Authorization: Bearer``, as for the API), and is checked by the same ``KeyGuard`` with the page's scope.

A browser cannot send a header on a link it follows, so pages keep the key in a cookie scoped to their own path; the
guard sees it exactly as it sees an API call's key (rate limits, revocations, last use included).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from processors.access.guard import AccessDenied

Guard = Callable[[str], Callable[..., Any]]


def presented_key(request: Request, cookie: str) -> str | None:
    """The key a page request carries: its ``Authorization: Bearer`` header, else the ``cookie``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(cookie) or None


async def page_grant(request: Request, guard: Guard | None, scope: str, cookie: str) -> str | AccessDenied:
    """The key id ``guard`` lets through for ``scope`` ('' when access control is off), or its refusal."""
    if guard is None:
        return ""
    token = presented_key(request, cookie)
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
    try:
        return await guard(scope)(request=request, credentials=credentials)
    except AccessDenied as denied:
        return denied


def keep_key(response: Response, cookie: str, key: str, path: str) -> Response:
    """``response`` setting the login cookie: HttpOnly (no script reads it), SameSite=Strict, for ``path`` only."""
    response.set_cookie(cookie, key, httponly=True, samesite="strict", path=path)
    return response
