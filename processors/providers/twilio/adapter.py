"""Twilio Programmable Messaging as a dispatch provider (``processors.dispatch.provider.Provider``): SMS and MMS.

One message is one form-encoded ``POST {api}/2010-04-01/Accounts/{Sid}/Messages.json`` with HTTP Basic auth
(AccountSid:AuthToken): ``To``, ``From`` (the message's sender id) or ``MessagingServiceSid``, ``Body``,
``MediaUrl`` once per medium (MMS), ``StatusCallback`` (our receiver's /webhooks/twilio) and ``ValidityPeriod`` (the
seconds left until the message's ``expires_at``, within Twilio's 1..36000). 201 with ``sid`` → accepted, one
provider id (Twilio segments the body itself). Reports come back as status callbacks at the receiver, not here.

Answers:

- 429 → retried within the call after ``Retry-After``, then transient ``throttled`` (Twilio is alive: the breaker
  does not count it); refusal codes that mean "later" (``statuses.TRANSIENT_CODES``: 'From' queue full…) likewise.
- 503, refused connection → transient, not sent.
- timeout, dropped connection, another 5xx, a 201 without a readable sid → the outcome is unknown: looked up at once
  (``reconcile``), else transient ``timeout``/``connection_lost`` so dispatch keeps it SUBMITTING and reconciles it
  later, never sending it again blindly (see ``lookup`` for how a message without our id is found).
- 401/403 → transient ``provider_auth_failed``: our credentials, not the message, are wrong. Transient so the
  messages wait for the fix instead of failing, and so the router counts it against Twilio's breaker, which opens
  (a permanent refusal proves a provider alive). One error log line per outage, naming the settings.
- other 4xx → permanent, the reason from Twilio's ``code`` (``statuses.API_ERRORS``: 21211 ``invalid_destination``,
  21610 ``recipient_unsubscribed``…).

Concurrency (``processors.providers.http_submit``): up to ``concurrency`` requests at once, one destination's messages
one after the other in input order; after a transient answer, that destination's later messages are held (transient
``held_for_order``).
"""
from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Sequence
from urllib.parse import urlencode

import httpx

from common.errors import TransientError, UnreachableError
from processors.dispatch.provider import InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.http_submit import json_object as _json
from processors.providers.http_submit import retry_after as _retry_after
from processors.providers.http_submit import submit_in_order
from processors.providers.http_submit import transient as _transient
from processors.providers.twilio import lookup
from processors.providers.twilio.settings import TwilioSettings
from processors.providers.twilio.statuses import TRANSIENT_CODES, api_reason

log = logging.getLogger(__name__)
CHANNELS = frozenset({"SMS", "MMS"})
LOOKUP_TIMEOUT_S = 5.0
FORM = {"content-type": "application/x-www-form-urlencoded"}
MAX_VALIDITY_S = 36_000  # Twilio's ValidityPeriod range is 1..36000 seconds


class TwilioProvider:
    """Twilio's Messages API for one account; built from ``TwilioSettings`` (a missing credential raises at once).

    ``on_report``/``on_inbound`` are accepted for dispatch's factory and unused: Twilio's reports and inbound messages
    arrive as webhooks at the receiver (``webhook.py``), not on this connection."""

    def __init__(self, settings: TwilioSettings | None = None, *, on_report: ReportCallback | None = None,
                 on_inbound: InboundCallback | None = None, name: str = "twilio", transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings or TwilioSettings()
        credentials = self._settings.credentials()
        self.name = name  # the webhook parser names reports "twilio" too: the receipt stage matches them by provider and sid
        self._account = credentials.account_sid
        self._auth = (credentials.account_sid, credentials.auth_token.get_secret_value())
        self._path = f"/2010-04-01/Accounts/{credentials.account_sid}/Messages.json"
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._sent = lookup.SentLog()
        self._auth_failing = False

    # Lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and check the credentials with a one-message list; ``UnreachableError`` when nothing answers or they are refused."""
        if self._client is not None:
            return
        limits = httpx.Limits(max_connections=self._settings.concurrency, max_keepalive_connections=self._settings.concurrency)
        client = httpx.Client(base_url=self._settings.api_url.rstrip("/"), auth=self._auth, limits=limits,
                              timeout=self._settings.request_timeout_s, transport=self._transport)
        try:
            probe = client.get(self._path, params={"PageSize": "1"})
        except httpx.HTTPError as exc:
            client.close()
            raise UnreachableError(f"Twilio at {self._settings.api_url} did not answer ({type(exc).__name__}); "
                                   "check COURRIER_TWILIO_API_URL") from exc
        if probe.status_code != 200:
            client.close()
            hint = "; check COURRIER_TWILIO_ACCOUNT_SID and COURRIER_TWILIO_AUTH_TOKEN" if probe.status_code in (401, 403, 404) else ""
            raise UnreachableError(f"Twilio refused the account's message list "
                                   f"(HTTP {probe.status_code}, code {_code(probe) or '-'}){hint}")
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=self._settings.concurrency, thread_name_prefix=f"{self.name}-submit")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # Submitting ----------------------------------------------------------------------------------------------

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """One final result per submission, in input order, within ``timeout_s`` (plus a second for answers in flight):
        what could not start in time is transient ``not_submitted``; what started without an answer, ``timeout``."""
        assert self._pool is not None, "open() first"
        return submit_in_order(self._pool, submissions, timeout_s, self._send)

    def reconcile(self, message_id: str, channel: str = "SMS") -> SubmitResult | None:
        """What Twilio has of a request whose answer was lost: accepted (its sid), or None when it never got it.

        Raises ``TransientError`` when Twilio cannot say now. A message this process did not send (a restart since)
        cannot be found, Twilio holding nothing of ours: it is answered accepted with no provider id and detail
        ``outcome_unknown``, so it is never sent twice and its receipt ends ``UNKNOWN`` at its report deadline."""
        assert self._client is not None, "open() first"
        known = self._sent.get(message_id)
        if known is None:
            log.warning("Twilio cannot be asked about a message this process did not send; it is not sent again",
                        extra={"provider": self.name, "message_id": message_id})
            return SubmitResult(message_id, True, [], "outcome_unknown", False, "outcome_unknown")
        sid = known.sid if isinstance(known, lookup.Answered) else self._find(message_id, known)
        self._sent.remember(message_id, lookup.Answered(sid))
        return SubmitResult(message_id, True, [sid], None, False, "reconciled") if sid is not None else None

    def _find(self, message_id: str, sent: lookup.Sent) -> str | None:
        """The sid of the message ``sent`` made, claimed (oldest unclaimed match), or None; ``TransientError`` when unsure."""
        found: list[str] = []
        url: str | None = self._path
        params: dict[str, str] | None = lookup.list_params(sent)
        for _page in range(lookup.MAX_PAGES):
            page = self._list(url, params, message_id)
            on_page, older_pages_may_match = lookup.candidates(page, sent)
            found.extend(on_page)
            url, params = page.get("next_page_uri"), None  # the next page's URI carries the query
            if not older_pages_may_match or not url:
                return self._sent.claim(reversed(found))
        raise TransientError(f"{self.name}: too many recent messages to {message_id}'s number to scan for it")

    def _list(self, url: str, params: dict[str, str] | None, message_id: str) -> dict[str, Any]:
        assert self._client is not None
        try:
            answer = self._client.get(url, params=params, timeout=min(self._settings.request_timeout_s, LOOKUP_TIMEOUT_S))
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.name} could not look up {message_id}: {type(exc).__name__}") from exc
        body = _json(answer)
        if answer.status_code != 200 or not isinstance(body.get("messages"), list):
            raise TransientError(f"{self.name} lookup of {message_id} answered HTTP {answer.status_code}")
        return body

    def _send(self, submission: Submission, deadline: float) -> SubmitResult:
        assert self._client is not None
        if submission.channel not in CHANNELS:
            return SubmitResult(submission.message_id, False, [], "channel_not_supported", False, "channel_not_supported")
        form = urlencode(self._form(submission))
        message_id = submission.message_id
        # Remembered before it leaves: if the answer is lost, this is all there is to find the message by.
        sent = lookup.Sent(submission.destination, None if self._settings.messaging_service_sid else submission.sender_id,
                           submission.text, datetime.now(timezone.utc))
        for attempt in range(self._settings.throttle_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _transient(message_id, "429" if attempt else None, "throttled" if attempt else "not_submitted")
            self._sent.remember(message_id, sent)
            try:
                answer = self._client.post(self._path, content=form, headers=FORM, timeout=min(self._settings.request_timeout_s, remaining))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._sent.remember(message_id, lookup.Answered(None))
                return _transient(message_id, type(exc).__name__, "provider_unreachable")
            except httpx.TimeoutException:
                return self._unknown(submission, sent, "timeout", deadline)
            except httpx.HTTPError:
                return self._unknown(submission, sent, "connection_lost", deadline)
            if answer.status_code == 429:
                self._sent.remember(message_id, lookup.Answered(None))
                wait_s = _retry_after(answer)
                if attempt < self._settings.throttle_retries and time.monotonic() + wait_s < deadline:
                    time.sleep(wait_s)
                    continue
                return _transient(message_id, _code(answer) or "429", "throttled")
            return self._answered(submission, sent, answer, deadline)
        raise AssertionError("unreachable: the loop returns")

    def _form(self, submission: Submission) -> list[tuple[str, str]]:
        """The create request's parameters; a list, since ``MediaUrl`` repeats."""
        form = [("To", submission.destination)]
        if self._settings.messaging_service_sid:
            form.append(("MessagingServiceSid", self._settings.messaging_service_sid))
        else:
            form.append(("From", submission.sender_id))
        if submission.text:
            form.append(("Body", submission.text))
        if submission.channel == "MMS":
            form.extend(("MediaUrl", url) for url in submission.media_urls)
        if self._settings.status_callback_url:
            form.append(("StatusCallback", self._settings.status_callback_url))
        if submission.expires_at is not None:
            form.append(("ValidityPeriod", str(validity_period(submission.expires_at, datetime.now(timezone.utc)))))
        return form

    def _answered(self, submission: Submission, sent: lookup.Sent, answer: httpx.Response, deadline: float) -> SubmitResult:
        message_id, status, code = submission.message_id, answer.status_code, _code(answer)
        if status in (200, 201):
            sid = _json(answer).get("sid")
            if not isinstance(sid, str) or not sid:
                return self._unknown(submission, sent, "connection_lost", deadline)  # created, but the answer is unreadable
            self._sent.remember(message_id, lookup.Answered(sid))
            self._auth_ok()
            return SubmitResult(message_id, True, [sid], None, False, None)
        if status >= 500 and status != 503:  # a server error may come after the message was made
            return self._unknown(submission, sent, "connection_lost", deadline)
        self._sent.remember(message_id, lookup.Answered(None))  # a refusal: certainly not created
        if status == 503:
            return _transient(message_id, code or "503", "provider_unavailable")
        if status in (401, 403):
            if not self._auth_failing:
                self._auth_failing = True
                log.error("Twilio refused the credentials; messages wait until COURRIER_TWILIO_ACCOUNT_SID and "
                          "COURRIER_TWILIO_AUTH_TOKEN are fixed",
                          extra={"provider": self.name, "status": status, "code": code})
            return _transient(message_id, code or str(status), "provider_auth_failed")
        self._auth_ok()
        if code in TRANSIENT_CODES:
            return _transient(message_id, code, "throttled")
        return SubmitResult(message_id, False, [], code or str(status), False, api_reason(code))

    def _auth_ok(self) -> None:
        if self._auth_failing:
            self._auth_failing = False
            log.info("Twilio accepts the credentials again", extra={"provider": self.name})

    def _unknown(self, submission: Submission, sent: lookup.Sent, why: str, deadline: float) -> SubmitResult:
        """An answer lost after the request left: look it up once if time remains; not found (yet), it stays
        remembered and is left to ``reconcile``, which decides."""
        if deadline - time.monotonic() > 0:
            try:
                sid = self._find(submission.message_id, sent)
            except TransientError:
                sid = None
            if sid is not None:
                self._sent.remember(submission.message_id, lookup.Answered(sid))
                return SubmitResult(submission.message_id, True, [sid], None, False, "reconciled")
        log.info("Twilio submit outcome unknown", extra={"provider": self.name, "message_id": submission.message_id, "why": why})
        return _transient(submission.message_id, why, why)


def validity_period(expires_at: datetime, now: datetime) -> int:
    """``ValidityPeriod``: whole seconds until ``expires_at``, within Twilio's 1..36000 (a longer validity is cut to 10 h)."""
    return max(1, min(MAX_VALIDITY_S, math.ceil((expires_at - now).total_seconds())))


def _code(answer: httpx.Response) -> str | None:
    """Twilio's error ``code`` (an int in its JSON), as a string."""
    code = _json(answer).get("code")
    return str(code) if code is not None else None
