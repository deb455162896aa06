"""RCS capability from RBM (or an RBM-shaped API), cached in memory (no local disk) with a TTL per answer.

``GET /v1/phones/{E.164}/capabilities?requestId=<UUID>&agentId=`` and ``POST /v1/users:batchGet`` ``{"users",
"agentId"}`` → ``reachableUsers`` (RBM's REST reference: phones.getCapabilities, users.batchGet), each with the
``Authorization`` header ``authorization`` gives: an OAuth token (``auth.TokenSource.header``) for RBM, a static bearer
token for the simulator's legacy API (which needs no ``agentId``).

``CapabilityClient`` is a ``CapabilityLookup``: True (capable: 200), False (not capable: 404, or not in a bulk
answer's ``reachableUsers``). When the API does not answer it raises ``CapabilityUnknown`` and stops asking for
``down_for_s``, so a batch during an outage costs one timeout, not one per record. ``prefetch`` asks for every
uncached number of a batch in one ``users:batchGet`` (10,000 per call). The cache keeps at most ``max_entries``
numbers (least recently used go first): "capable" for ``ttl_s``, "not capable" for ``negative_ttl_s``. One instance
serves one thread (the stage's).
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from typing import Callable, Iterable, Sequence
from urllib.parse import quote

import httpx

from common.errors import CourrierError
from processors.channel.logic import CapabilityUnknown
from processors.providers.rbm.auth import HttpxRequest, TokenSource
from processors.providers.rbm.settings import RbmSettings

log = logging.getLogger(__name__)
MAX_BATCH = 10_000


def static_bearer(token: str) -> Callable[[], str]:
    """``authorization`` for an API with one fixed bearer token (the simulator's legacy one)."""
    header = f"Bearer {token}"
    return lambda: header


class CapabilityClient:
    """A cached client of ``GET /v1/phones/{e164}/capabilities`` and ``POST /v1/users:batchGet`` at ``base_url``.

    ``authorization`` gives the ``Authorization`` header of each request (a ``CourrierError`` from it — no token — is an
    outage like any other); ``agent_id`` is sent as ``agentId`` when given."""

    def __init__(self, base_url: str, authorization: Callable[[], str], *, agent_id: str | None = None,
                 ttl_s: float = 86_400.0, negative_ttl_s: float = 3_600.0,
                 max_entries: int = 100_000, timeout_s: float = 2.0, batch_timeout_s: float = 10.0, down_for_s: float = 5.0,
                 retry_after_s: float | None = 60.0, clock: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None, http: httpx.Client | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl_s, self._negative_ttl_s = ttl_s, negative_ttl_s
        self._max_entries = max_entries
        self._batch_timeout_s = batch_timeout_s
        self._down_for_s = down_for_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._authorization = authorization
        self._agent = {"agentId": agent_id} if agent_id else {}
        # ``http``: a client shared with whoever fetches the tokens (closed with this one).
        self._client = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        self._cache: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._down_until = 0.0
        self.asked = 0  # numbers sent to the API, single or bulk (for tests and figures)

    def __call__(self, e164: str) -> bool:
        """Whether ``e164`` is RCS-capable; ``CapabilityUnknown`` when the API does not answer."""
        cached = self.cached(e164)
        if cached is not None:
            return cached
        self._check_up()
        try:
            answer = self._client.get(f"/v1/phones/{quote(e164, safe='+')}/capabilities",
                                      params={"requestId": str(uuid.uuid4()), **self._agent}, headers=self._headers())
        except (httpx.HTTPError, CourrierError) as exc:
            raise self._went_down(type(exc).__name__) from exc
        self.asked += 1
        if answer.status_code == 200:
            return self._remember(e164, True)
        if answer.status_code in (400, 404):  # not capable, or not a number RCS can reach
            return self._remember(e164, False)
        raise self._went_down(f"HTTP {answer.status_code}")

    def prefetch(self, numbers: Iterable[str]) -> None:
        """Ask in bulk for the numbers not cached yet; an outage is remembered, never raised (lookups then raise)."""
        wanted = [n for n in dict.fromkeys(numbers) if self.cached(n) is None]
        for start in range(0, len(wanted), MAX_BATCH):
            try:
                self.batch(wanted[start:start + MAX_BATCH])
            except CapabilityUnknown:
                return

    def batch(self, numbers: Sequence[str]) -> set[str]:
        """One ``users:batchGet`` for at most 10,000 numbers: the capable ones (every answer is cached)."""
        if len(numbers) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} numbers per call")
        if not numbers:
            return set()
        self._check_up()
        try:
            answer = self._client.post("/v1/users:batchGet", json={"users": list(numbers), **self._agent},
                                       headers=self._headers(), timeout=self._batch_timeout_s)
        except (httpx.HTTPError, CourrierError) as exc:
            raise self._went_down(type(exc).__name__) from exc
        try:
            reachable = set(answer.json()["reachableUsers"]) if answer.status_code == 200 else None
        except (ValueError, KeyError, TypeError):
            reachable = None
        if reachable is None:
            raise self._went_down(f"HTTP {answer.status_code}")
        self.asked += len(numbers)
        for number in numbers:
            self._remember(number, number in reachable)
        return reachable & set(numbers)

    def cached(self, e164: str) -> bool | None:
        """The cached answer for ``e164`` if it is still fresh, else None."""
        entry = self._cache.get(e164)
        if entry is None:
            return None
        capable, expires_at = entry
        if self._clock() >= expires_at:
            del self._cache[e164]
            return None
        self._cache.move_to_end(e164)
        return capable

    def close(self) -> None:
        self._client.close()

    def __len__(self) -> int:
        return len(self._cache)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization()}

    def _remember(self, e164: str, capable: bool) -> bool:
        self._cache[e164] = (capable, self._clock() + (self._ttl_s if capable else self._negative_ttl_s))
        self._cache.move_to_end(e164)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return capable

    def _check_up(self) -> None:
        if self._clock() < self._down_until:
            raise CapabilityUnknown("the RCS capability API is not answering", delay_s=self._retry_after_s)

    def _went_down(self, why: str) -> CapabilityUnknown:
        self._down_until = self._clock() + self._down_for_s
        log.warning("RCS capability API not answering", extra={"why": why, "retry_in_s": self._down_for_s})
        return CapabilityUnknown(f"the RCS capability API did not answer ({why})", delay_s=self._retry_after_s)


def rbm_capability(settings: RbmSettings, transport: httpx.BaseTransport | None = None) -> CapabilityClient:
    """The lookup of a configured RBM agent: OAuth tokens from its service account, its agent id, its TTLs and cache.

    Nothing is fetched until the first lookup; ``RbmConfigError`` at once when the agent or the key is missing."""
    agent, key = settings.agent(), settings.service_account()
    http = httpx.Client(base_url=settings.api_url.rstrip("/"), timeout=settings.capability_timeout_s, transport=transport)
    tokens = TokenSource(key, HttpxRequest(http, settings.request_timeout_s), settings.token_refresh_margin_s)
    return CapabilityClient(settings.api_url, tokens.header, agent_id=agent, ttl_s=settings.capability_ttl_s,
                            negative_ttl_s=settings.capability_negative_ttl_s, max_entries=settings.capability_cache_size,
                            timeout_s=settings.capability_timeout_s, http=http)
