"""Vonage's Messages API as a dispatch provider (``processors.dispatch.provider.Provider``): SMS.

One message is one ``POST {api_url}/v1/messages`` with HTTP Basic auth (API key : API secret) and the JSON body Vonage
documents for SMS (developer.vonage.com/api/messages): ``message_type`` ``text``, ``channel`` ``sms``, ``to`` (E.164
without ``+``), ``from`` (the sender id; a number without ``+``), ``text``, ``client_ref`` (our message id: Vonage
echoes it in every status webhook, and the receipt stage attributes reports by it), ``webhook_url`` (our receiver's
status URL, when configured), ``ttl`` (the seconds left until the message's ``expires_at``) and ``sms.encoding_type``
(``text`` for GSM-7, ``unicode`` for UCS-2). 202 with ``message_uuid`` → accepted, one provider id (Vonage segments
the text itself). Reports and inbound messages come back as webhooks at the receiver (``webhook.py``), not here.

Answers (refusals are RFC 7807 problems; their code is ``statuses.error_code``):

- 429 → retried within the call after ``Retry-After``, then transient ``throttled`` (Vonage is alive: the breaker
  does not count it); a refusal whose code says "later" (``statuses.TRANSIENT_CODES``: 1000 throttled) likewise.
- 503, refused connection → transient, not sent.
- timeout, dropped connection, another 5xx, a 2xx without a readable ``message_uuid`` → the outcome is unknown:
  transient ``timeout`` or ``connection_lost``, which dispatch's ledger keeps SUBMITTING and never sends again.
  There is no ``reconcile``: the Messages API has no client idempotency key and no lookup by ``client_ref`` (its
  only read of sent messages is the Reports API, a separate paid product that finds records by message UUID or by
  date range, not by our reference), so nothing can tell whether Vonage has the message.
- 401/403 → transient ``provider_auth_failed``: the account (credentials, rights, a balance Vonage refuses) is wrong,
  not the message. Transient so the messages wait for the fix, and counted by the router against Vonage's breaker,
  which opens. One error log line per outage (naming the settings and Vonage's problem type), and
  ``courrier_vonage_auth_refused_total{provider, status}`` per refusal.
- other 4xx (400, 422…) → permanent, the reason from Vonage's code (``statuses.ERRORS``: 1240 ``recipient_unsubscribed``…).

``open`` makes no request: the Messages API has no read endpoint to check credentials against, so a refusal shows on
the first send (and opens the breaker). Concurrency is ``processors.providers.http_submit``'s.
"""
from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Sequence

import httpx
from prometheus_client import Counter

from processors.dispatch.provider import InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.http_submit import json_object, retry_after, submit_in_order, transient
from processors.providers.vonage.settings import VonageSettings
from processors.providers.vonage.statuses import TRANSIENT_CODES, error_code, reason
from processors.providers.vonage.webhook import e164

log = logging.getLogger(__name__)
CHANNELS = frozenset({"SMS"})
PATH = "/v1/messages"
MAX_TTL_S = 259_200  # Vonage attempts delivery for 72 h at most: a longer validity gains nothing
ENCODING_TYPE = {"GSM7": "text", "UCS2": "unicode"}

# In the default registry, once per process (several adapters may share a test process).
AUTH_REFUSED = Counter("courrier_vonage_auth_refused", "Vonage sends refused for the account (HTTP 401/403), by provider and status",
                       ["provider", "status"])


class VonageProvider:
    """Vonage's Messages API for one account; built from ``VonageSettings`` (a missing credential raises at once).

    ``on_report``/``on_inbound`` are accepted for dispatch's factory and unused: Vonage's reports and inbound messages
    arrive as webhooks at the receiver, not on this connection."""

    def __init__(self, settings: VonageSettings | None = None, *, on_report: ReportCallback | None = None,
                 on_inbound: InboundCallback | None = None, name: str = "vonage", transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings or VonageSettings()
        credentials = self._settings.credentials()
        self.name = name  # the webhook parser names reports the same: the receipt stage matches them by provider
        self._auth = (credentials.api_key, credentials.api_secret.get_secret_value())
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._auth_failing = False

    def open(self) -> None:
        """Ready the HTTP client and the request threads (no request: see the module docstring)."""
        if self._client is not None:
            return
        limits = httpx.Limits(max_connections=self._settings.concurrency, max_keepalive_connections=self._settings.concurrency)
        self._client = httpx.Client(base_url=self._settings.api_url.rstrip("/"), auth=self._auth, limits=limits,
                                    timeout=self._settings.request_timeout_s, transport=self._transport)
        self._pool = ThreadPoolExecutor(max_workers=self._settings.concurrency, thread_name_prefix=f"{self.name}-submit")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """One final result per submission, in input order, within ``timeout_s`` (``http_submit`` says how)."""
        assert self._pool is not None, "open() first"
        return submit_in_order(self._pool, submissions, timeout_s, self._send)

    def _send(self, submission: Submission, deadline: float) -> SubmitResult:
        assert self._client is not None
        message_id = submission.message_id
        if submission.channel not in CHANNELS:
            return SubmitResult(message_id, False, [], "channel_not_supported", False, "channel_not_supported")
        body = request_body(submission, self._settings.status_webhook_url, datetime.now(timezone.utc))
        for attempt in range(self._settings.throttle_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return transient(message_id, "429" if attempt else None, "throttled" if attempt else "not_submitted")
            try:
                answer = self._client.post(PATH, json=body, timeout=min(self._settings.request_timeout_s, remaining))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                return transient(message_id, type(exc).__name__, "provider_unreachable")
            except httpx.TimeoutException:
                return self._unknown(message_id, "timeout")
            except httpx.HTTPError:
                return self._unknown(message_id, "connection_lost")
            if answer.status_code == 429:
                wait_s = retry_after(answer)
                if attempt < self._settings.throttle_retries and time.monotonic() + wait_s < deadline:
                    time.sleep(wait_s)
                    continue
                return transient(message_id, error_code(json_object(answer)) or "429", "throttled")
            return self._answered(message_id, answer)
        raise AssertionError("unreachable: the loop returns")

    def _answered(self, message_id: str, answer: httpx.Response) -> SubmitResult:
        status, problem = answer.status_code, json_object(answer)
        code = error_code(problem)
        if 200 <= status < 300:
            uuid = problem.get("message_uuid")
            if not isinstance(uuid, str) or not uuid:
                return self._unknown(message_id, "connection_lost")  # made, but the answer is unreadable
            self._auth_ok()
            return SubmitResult(message_id, True, [uuid], None, False, None)
        if status >= 500 and status != 503:  # a server error may come after the message was made
            return self._unknown(message_id, "connection_lost")
        if status == 503:
            return transient(message_id, code or "503", "provider_unavailable")
        if status in (401, 403):
            self._auth_refused(status, code, problem)
            return transient(message_id, code or str(status), "provider_auth_failed")
        self._auth_ok()
        if code in TRANSIENT_CODES:
            return transient(message_id, code, "throttled")
        return SubmitResult(message_id, False, [], code or str(status), False, reason(code))

    def _auth_refused(self, status: int, code: str | None, problem: dict[str, Any]) -> None:
        AUTH_REFUSED.labels(self.name, str(status)).inc()
        if not self._auth_failing:
            self._auth_failing = True
            title = problem.get("title")
            log.error("Vonage refused the account; messages wait until COURRIER_VONAGE_API_KEY and COURRIER_VONAGE_API_SECRET "
                      "(or the account's rights or balance) are fixed",
                      extra={"provider": self.name, "status": status, "code": code,
                             "title": title[:120] if isinstance(title, str) else None})

    def _auth_ok(self) -> None:
        if self._auth_failing:
            self._auth_failing = False
            log.info("Vonage accepts the account again", extra={"provider": self.name})

    def _unknown(self, message_id: str, why: str) -> SubmitResult:
        log.info("Vonage submit outcome unknown; not sent again", extra={"provider": self.name, "message_id": message_id, "why": why})
        return transient(message_id, why, why)


def request_body(submission: Submission, status_webhook_url: str, now: datetime) -> dict[str, Any]:
    """The send request's JSON for one SMS, as of ``now`` (its ``ttl``)."""
    body: dict[str, Any] = {
        "message_type": "text", "channel": "sms", "to": submission.destination.removeprefix("+"),
        "from": _from(submission.sender_id), "text": submission.text, "client_ref": submission.message_id,
        "sms": {"encoding_type": ENCODING_TYPE.get(submission.encoding, "auto")},
    }
    if status_webhook_url:
        body["webhook_url"] = status_webhook_url
    if submission.expires_at is not None:
        body["ttl"] = ttl(submission.expires_at, now)
    return body


def ttl(expires_at: datetime, now: datetime) -> int:
    """``ttl``: whole seconds until ``expires_at``, at least 1, at most Vonage's 72 h."""
    return max(1, min(MAX_TTL_S, math.ceil((expires_at - now).total_seconds())))


def _from(sender_id: str) -> str:
    """A number sender without its ``+`` (Vonage's form); a short code or an alphanumeric sender id as it is."""
    number = e164(sender_id) if sender_id.startswith("+") else None
    return number.removeprefix("+") if number else sender_id
