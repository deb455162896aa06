"""OAuth 2 access tokens for the RBM API, from a service account, through google-auth over httpx.

google-auth signs the JWT assertion with the service account's key and exchanges it at the key's ``token_uri``
(Google's, or the fake's on loopback); its own HTTP transports need ``requests``, which Courrier does not install, so
``HttpxRequest`` is the small ``google.auth.transport.Request`` it is given instead. ``TokenSource`` keeps one token
for every thread of the adapter and renews it ``margin_s`` before it expires, one refresh at a time; a 401 from the
API drops it (``invalidate``), so the next request asks for a new one rather than repeat a refused token. A refresh
that fails is not tried again for ``cooldown_s``: the requests meanwhile fail at once with the same error, so an
outage of the token endpoint costs one attempt per cooldown, not one per message.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from google.auth import exceptions as google_errors
from google.auth import transport
from google.oauth2 import service_account

from common.errors import CourrierError
from processors.providers.rbm.settings import SCOPE


class TokenRefused(CourrierError):
    """The token endpoint refused the service account (wrong key, disabled account, bad scope): fixing it is ours."""


class TokenUnavailable(CourrierError):
    """The token endpoint could not be reached or answered nonsense: it may pass."""


class _Response(transport.Response):
    """An httpx answer as google-auth reads it."""

    def __init__(self, answer: httpx.Response) -> None:
        self._answer = answer

    @property
    def status(self) -> int:
        return self._answer.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._answer.headers

    @property
    def data(self) -> bytes:
        return self._answer.content


class HttpxRequest(transport.Request):
    """google-auth's transport over one httpx client; every httpx failure becomes google-auth's ``TransportError``."""

    def __init__(self, client: httpx.Client, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s

    def __call__(self, url: str, method: str = "GET", body: bytes | None = None, headers: Mapping[str, str] | None = None,
                 timeout: float | None = None, **kwargs: Any) -> _Response:
        try:
            answer = self._client.request(method, url, content=body, headers=dict(headers or {}),
                                          timeout=timeout if timeout is not None else self._timeout_s)
        except httpx.HTTPError as exc:
            raise google_errors.TransportError(f"{type(exc).__name__} from the token endpoint") from exc
        return _Response(answer)


class TokenSource:
    """The ``Authorization`` header for RBM requests; thread-safe, one refresh at a time.

    ``clock`` is for tests (the token's expiry is compared with it); google-auth keeps expiries as naive UTC.
    """

    def __init__(self, info: Mapping[str, Any], request: transport.Request, margin_s: float = 300.0, cooldown_s: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc).replace(tzinfo=None)) -> None:
        try:
            self._credentials = service_account.Credentials.from_service_account_info(dict(info), scopes=[SCOPE])
        except (ValueError, KeyError) as exc:  # a key google-auth cannot load: say which kind, never the key
            raise TokenRefused(f"the service account key cannot be loaded ({type(exc).__name__})") from None
        self._request = request
        self._margin = timedelta(seconds=margin_s)
        self._clock = clock
        self._cooldown_s = cooldown_s
        self._failed: tuple[float, CourrierError] | None = None  # (monotonic time, error) of the last failed refresh
        self._lock = threading.Lock()
        self.refreshes = 0  # tokens fetched (for tests and figures)

    @property
    def account(self) -> str:
        """The service account's e-mail (not a secret: it names the account in logs)."""
        return str(self._credentials.service_account_email)

    def header(self) -> str:
        """``Bearer <token>``, fetching a token first when there is none or it expires within the margin.

        Raises ``TokenRefused`` (the endpoint said no: credentials) or ``TokenUnavailable`` (it did not answer usefully)."""
        with self._lock:
            if self._stale():
                self._refresh()
            return f"Bearer {self._credentials.token}"

    def invalidate(self) -> None:
        """Forget the token (the API refused it): the next ``header`` fetches a new one."""
        with self._lock:
            self._credentials.token = None

    def _stale(self) -> bool:
        expiry = self._credentials.expiry
        if self._credentials.token is None:
            return True
        return expiry is not None and self._clock() >= expiry - self._margin

    def _refresh(self) -> None:
        if self._failed is not None and time.monotonic() - self._failed[0] < self._cooldown_s:
            raise self._failed[1]
        try:
            self._credentials.refresh(self._request)
        except (google_errors.RefreshError, google_errors.TransportError) as exc:
            error = _classified(exc, self.account)
            self._failed = (time.monotonic(), error)
            raise error from None
        self._failed = None
        self.refreshes += 1


def _classified(exc: Exception, account: str) -> CourrierError:
    """A failed refresh as ours to fix (``TokenRefused``) or an outage (``TokenUnavailable``)."""
    # google-auth marks an answer it may retry (5xx, 429) as retryable: that is an outage, not our credentials.
    if isinstance(exc, google_errors.RefreshError) and not getattr(exc, "retryable", False):
        return TokenRefused(f"the token endpoint refused the service account {account}: {_short(exc)}")
    return TokenUnavailable(f"the token endpoint did not answer usefully: {_short(exc)}")


def _short(exc: Exception) -> str:
    """A google-auth error's first words: its messages quote the endpoint's answer, never our key."""
    return str(exc.args[0] if exc.args else exc)[:200]
