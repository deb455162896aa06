"""The scopes an API key can hold, and the one table saying which scope every HTTP endpoint needs.

Every endpoint of every Courrier HTTP API is declared in ``SCOPES``, as if all sat behind one gateway:
apps look their routes up with ``required_scope`` (which fails, naming the route, when one is missing)
and their tests check ``undeclared(app) == []``. ``None`` means no API key: load-balancer probes, links
followed by recipients' phones, and provider webhooks, which check the provider's signature instead.
"""
from __future__ import annotations

from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.routing import Route

MESSAGES_SEND = "messages:send"
MESSAGES_READ = "messages:read"
CAMPAIGNS_SEND = "campaigns:send"
CONSENT_WRITE = "consent:write"
REPORTS_READ = "reports:read"
CONVERSIONS_WRITE = "conversions:write"
TEMPLATES_READ = "templates:read"
TEMPLATES_WRITE = "templates:write"
ADMIN = "admin"  # keys, dead letters, replays; and it implies every other scope
ALL_SCOPES: tuple[str, ...] = (MESSAGES_SEND, MESSAGES_READ, CAMPAIGNS_SEND, CONSENT_WRITE, REPORTS_READ, TEMPLATES_READ,
                               TEMPLATES_WRITE, CONVERSIONS_WRITE, ADMIN)

SCOPES: dict[tuple[str, str], str | None] = {
    ("POST", "/v1/messages"): MESSAGES_SEND,
    ("POST", "/v1/messages/batch"): MESSAGES_SEND,
    ("POST", "/v1/consent"): CONSENT_WRITE,
    ("POST", "/v1/conversions"): CONVERSIONS_WRITE,
    ("POST", "/v1/test-sends"): TEMPLATES_WRITE,
    # A message's status and receipts (processors.status), shown to the key that sent it; a campaign's counts.
    ("GET", "/v1/messages/{message_id}"): MESSAGES_READ,
    ("GET", "/v1/campaigns/{campaign_id}"): REPORTS_READ,
    # The template store (processors/templates_store/api.py) and the template studio's pages (processors/studio): a page
    # takes the key from the studio's login cookie; the login page itself needs none.
    ("GET", "/v1/templates"): TEMPLATES_READ,
    ("POST", "/v1/templates"): TEMPLATES_WRITE,
    ("GET", "/v1/templates/{template_id}"): TEMPLATES_READ,
    ("GET", "/v1/templates/{template_id}/versions/{version}"): TEMPLATES_READ,
    ("POST", "/v1/templates/{template_id}/versions/{version}/publish"): TEMPLATES_WRITE,
    ("GET", "/studio"): TEMPLATES_READ,
    ("GET", "/studio/login"): None,
    ("POST", "/studio/login"): None,
    ("GET", "/studio/new"): TEMPLATES_WRITE,
    ("GET", "/studio/templates/{template_id}"): TEMPLATES_READ,
    ("POST", "/studio/preview"): TEMPLATES_READ,
    ("POST", "/studio/save"): TEMPLATES_WRITE,
    ("POST", "/studio/templates/{template_id}/publish"): TEMPLATES_WRITE,
    ("GET", "/studio/templates/{template_id}/diff"): TEMPLATES_READ,
    # The live dashboard's pages (processors/dashboard): the key from its login cookie, as the studio's.
    ("GET", "/dashboard"): REPORTS_READ,
    ("GET", "/dashboard/panel"): REPORTS_READ,
    ("GET", "/dashboard/login"): None,
    ("POST", "/dashboard/login"): None,
    ("GET", "/healthz"): None,
    # The short-link redirect (processors.links): opened by recipients, who hold no key.
    ("GET", "/{token}"): None,
    ("HEAD", "/{token}"): None,
    # The webhook receiver (processors.webhooks): each request carries the provider's signature, checked by the receiver.
    ("POST", "/webhooks/{provider}"): None,
    # Prometheus scrapes (counters by reason, no key or number in any label): serve them on an internal network.
    ("GET", "/metrics"): None,
}


def required_scope(method: str, path: str) -> str | None:
    """The scope a route needs (None: no key); ``KeyError`` naming the route when it is not declared."""
    try:
        return SCOPES[(method.upper(), path)]
    except KeyError:
        raise KeyError(f"HTTP route {method.upper()} {path} declares no scope: add it to SCOPES in processors/access/scopes.py") from None


def undeclared(app: Starlette) -> list[tuple[str, str]]:
    """The (method, path) routes of ``app`` missing from ``SCOPES``, leaving out FastAPI's own documentation pages."""
    docs = {getattr(app, name, None) for name in ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")}
    return sorted({(method, route.path) for route in app.routes if isinstance(route, Route) and route.path not in docs
                   for method in route.methods or () if (method, route.path) not in SCOPES})


def grants(granted: Iterable[str], needed: str) -> bool:
    """Whether a key holding ``granted`` may call an endpoint that needs ``needed`` (``admin`` implies all)."""
    held = set(granted)
    return needed in held or ADMIN in held


def parse_scopes(text: str) -> tuple[str, ...]:
    """``messages:send,reports:read`` as a tuple in declared order; ``ValueError`` naming unknown or missing scopes."""
    asked = [part.strip() for part in text.split(",") if part.strip()]
    if not asked:
        raise ValueError(f"give at least one scope of: {', '.join(ALL_SCOPES)}")
    unknown = [s for s in asked if s not in ALL_SCOPES]
    if unknown:
        raise ValueError(f"unknown scope {', '.join(map(repr, unknown))}; known: {', '.join(ALL_SCOPES)}")
    return tuple(s for s in ALL_SCOPES if s in asked)
