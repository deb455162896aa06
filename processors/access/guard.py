"""The API-key guard for FastAPI apps: one dependency per route scope, answering 401, 403 or 429 before the endpoint runs.

Credentials come as ``Authorization: Bearer courrier_live_…`` (shown on the OpenAPI page as the
``ApiKey`` scheme). Keys are looked up in this instance's table of the compacted ``api-keys`` topic,
which follows the topic live, so a revoke is refused here as soon as the record arrives (well under
a second on a healthy cluster). An accepted request leaves its key id in ``request.state.api_key_id``
for the endpoint to stamp on what it publishes, and the countries it may send to (None: any) in
``request.state.api_key_countries``; the key itself is never logged, stored or echoed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from common.config import Settings
from processors.access.logic import Denial, authorize
from processors.access.ratelimit import RateLimiter, retry_after
from processors.access.store import KEYS_TOPIC, require_topics
from processors.access.usage import UsageRecorder
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable

log = logging.getLogger(__name__)
REALM = "courrier"
BEARER = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                    description="An API key from `courrier keys create`, sent as `Authorization: Bearer courrier_live_…`.")


class AccessDenied(Exception):
    """A refusal the app answers with the API's error shape, its status and its headers (``denied_response``)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code, self.message, self.headers = status, code, message, headers


async def denied_response(_request: Request, exc: Exception) -> JSONResponse:
    """The exception handler for ``AccessDenied``: ``{"errors": [{code, message}]}`` with its status and headers."""
    assert isinstance(exc, AccessDenied)
    return JSONResponse({"errors": [{"code": exc.code, "message": exc.message}]}, status_code=exc.status, headers=exc.headers)


def challenge(denial: Denial, scope: str) -> str:
    """The ``WWW-Authenticate`` value of a refusal (RFC 6750: no error for a missing key, the scope for 403)."""
    if denial.code == "missing_api_key":
        return f'Bearer realm="{REALM}"'
    if denial.status == 403:
        return f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
    return f'Bearer realm="{REALM}", error="invalid_token", error_description="{denial.message}"'


class KeyGuard:
    """Checks keys, scopes and per-key rates for one HTTP instance; ``start``/``close`` with the app's lifespan."""

    def __init__(self, settings: Settings, keys: Mapping[str, Event] | None = None) -> None:
        """``keys`` replaces the ``api-keys`` table (tests, tools); by default the guard follows the topic itself."""
        self._settings = settings
        self._table: TopicTable | None = None
        if keys is None:
            keys = self._table = TopicTable(settings, KEYS_TOPIC)
        self._keys = keys
        self.limiter = RateLimiter(settings.key_rate_instances)
        self.usage = UsageRecorder(settings)

    def start(self) -> None:
        """Load the key table and start publishing last-used times; ``CourrierError`` naming what is missing or unreachable."""
        if self._table is not None:
            require_topics(self._settings)  # a missing topic would leave the table empty: every key refused, unexplained
            self._table.start()
            self.usage.start()

    def close(self) -> None:
        if self._table is not None:
            self.usage.close()
            self._table.stop()

    def __call__(self, scope: str) -> Callable[..., Any]:
        """The dependency of routes that need ``scope``: returns the key id, or raises ``AccessDenied``."""

        async def require_key(request: Request, credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> str:
            outcome = authorize(credentials.credentials if credentials else None, scope, self._keys.get)
            if isinstance(outcome, Denial):
                self._log_refusal(request, scope, outcome.status, outcome.code, outcome.key_id)
                raise AccessDenied(outcome.status, outcome.code, outcome.message, {"WWW-Authenticate": challenge(outcome, scope)})
            wait = self.limiter.take(outcome.key_id, outcome.rate_per_s or self._settings.key_rate_per_s,
                                     outcome.burst or self._settings.key_burst)
            if wait > 0:
                self._log_refusal(request, scope, 429, "rate_limited", outcome.key_id)
                raise AccessDenied(429, "rate_limited", f"the API key is over its rate limit; retry in {wait:.1f}s",
                                   {"Retry-After": str(retry_after(wait))})
            self.usage.touch(outcome.key_id)
            request.state.api_key_id = outcome.key_id
            request.state.api_key_countries = outcome.countries
            log.info("api request authorized", extra={"key_id": outcome.key_id, "key_name": outcome.name, "method": request.method,
                                                      "path": request.url.path, "scope": scope})
            return outcome.key_id

        return require_key

    def record(self, key_id: str | None) -> Event | None:
        """The stored record of a key (what an endpoint needs beyond the grant: its defaults, its callback secret)."""
        return self._keys.get(key_id) if key_id is not None else None

    def debit(self, request: Request, cost: int) -> None:
        """Charge the request's key for ``cost`` more messages (a batch's items past the first)."""
        key_id = getattr(request.state, "api_key_id", None)
        if key_id is not None:
            self.limiter.debit(key_id, cost)

    @staticmethod
    def _log_refusal(request: Request, scope: str, status: int, code: str, key_id: str | None) -> None:
        # The claimed id only: it is public (it is on every event), and it is None unless the key text was well-formed.
        log.log(logging.INFO if status == 429 else logging.WARNING, "api request refused",
                extra={"status": status, "code": code, "key_id": key_id, "method": request.method, "path": request.url.path,
                       "scope": scope, "client": request.client.host if request.client else None})
