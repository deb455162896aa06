"""Google RBM (RCS Business Messaging) as a dispatch provider (``processors.dispatch.provider.Provider``): RCS.

One message is one ``POST {api}/v1/phones/{E.164}/agentMessages?messageId={uuid}&agentId={agent}`` with an OAuth 2
bearer token (``auth``) and an ``AgentMessage`` body (``content``). The messageId is a UUID derived from our
submission id (``rbm_message_id``: uuid5), so every send of one submission carries the same one, and RBM refuses a
messageId it already has (409 ALREADY_EXISTS): resending is RBM's own idempotency, and how a lost answer is settled.
Reports come back as webhooks at the receiver (``webhook``), naming the messageId, our provider message id.
(REST reference: phones.agentMessages.create / .delete, developers.google.com/business-communications/rcs-business-messaging.)

Answers:

- 200 → accepted; 409 ALREADY_EXISTS → accepted before (``already_accepted``).
- 404 NOT_FOUND → the user is not RCS-capable (or not reachable by this agent): permanent ``rcs_not_capable``,
  so an RCS message with an SMS fallback falls back at once.
- 429 → retried within the call after ``Retry-After``, then transient ``throttled`` (RBM is alive: the breaker does
  not count it).
- 503, a refused connection, a token endpoint that does not answer → transient, not sent.
- timeout, dropped connection, another 5xx → unknown outcome: resent at once with the same messageId if time remains
  (200 or 409 settle it), else transient ``timeout``/``connection_lost``: dispatch keeps it SUBMITTING and
  ``reconcile`` resends it later; never a second message either way.
- 401/403, or the token endpoint refusing the service account → transient ``provider_auth_failed``: our credentials
  or agent are wrong, not the message. The router counts it against the breaker, which opens; one error log line
  per outage and ``courrier_rbm_auth_failures_total{provider, cause}``; nothing is retried within the call (a 401
  drops the cached token, so the next call fetches a new one).
- another 4xx → permanent, the reason from RBM's ``error.status`` (``statuses.API_ERRORS``).

``revoke`` withdraws a message not delivered yet (``DELETE …/agentMessages/{messageId}``), for dispatch before it
sends the SMS fallback a deadline triggered. Concurrency: ``processors.providers.http_submit``.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import quote

import httpx
from prometheus_client import Counter

from common.errors import TransientError, UnreachableError
from processors.dispatch.provider import InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.http_submit import json_object, retry_after, submit_in_order, transient
from processors.providers.rbm.auth import HttpxRequest, TokenRefused, TokenSource, TokenUnavailable
from processors.providers.rbm.content import BadRcsContent, agent_message, postback
from processors.providers.rbm.settings import RbmSettings
from processors.providers.rbm.statuses import api_reason

log = logging.getLogger(__name__)
CHANNELS = frozenset({"RCS"})
LOOKUP_TIMEOUT_S = 5.0
AUTH_FAILED = "provider_auth_failed"
# Fixed forever: changing it would give a message resent after an upgrade a new messageId, which RBM would deliver again.
MESSAGE_ID_NAMESPACE = uuid.UUID("3e0c6b52-8f1d-5a7e-b9c4-6d2f0a8e1c37")
# Sends whose outcome is unknown, kept for ``reconcile`` to resend; beyond this many the oldest are forgotten (their
# reconcile then answers None, and dispatch resends the submission itself: the same messageId, just as safe).
MAX_UNSETTLED = 10_000

# In the default registry, once per process (several adapters may share a test process).
AUTH_FAILURES = Counter("courrier_rbm_auth_failures", "RBM requests refused for our credentials or agent, by provider and cause "
                        "(401, 403, token: the token endpoint refused the service account)", ["provider", "cause"])


def rbm_message_id(submission_id: str) -> str:
    """The messageId RBM knows a submission by: a UUID (RBM requires one) derived from our submission id."""
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, submission_id))


@dataclass(frozen=True)
class _Request:
    """One send as it left: enough to send it again, byte for byte."""

    path: str
    params: dict[str, str]
    body: dict[str, Any]


class RbmProvider:
    """RBM's agentMessages API for one agent; built from ``RbmSettings`` (a missing setting raises at once).

    ``on_report``/``on_inbound`` are accepted for dispatch's factory and unused: RBM's events and user messages arrive
    as webhooks at the receiver (``webhook.py``), not on this connection."""

    def __init__(self, settings: RbmSettings | None = None, *, on_report: ReportCallback | None = None,
                 on_inbound: InboundCallback | None = None, name: str = "rbm", transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings or RbmSettings.of()
        self._agent = self._settings.agent()
        self._key = self._settings.service_account()
        self.name = name  # the webhook parser names reports the same: the receipt stage matches them by provider and messageId
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._tokens: TokenSource | None = None
        self._unsettled: OrderedDict[str, _Request] = OrderedDict()  # message id → its send, outcome unknown
        self._unsettled_lock = threading.Lock()  # the submit threads share it
        self._auth_failing = False

    # Lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and fetch an access token; ``UnreachableError`` when the token endpoint does not answer or refuses."""
        if self._client is not None:
            return
        limits = httpx.Limits(max_connections=self._settings.concurrency, max_keepalive_connections=self._settings.concurrency)
        client = httpx.Client(base_url=self._settings.api_url.rstrip("/"), limits=limits, timeout=self._settings.request_timeout_s,
                              transport=self._transport)
        tokens = TokenSource(self._key, HttpxRequest(client, self._settings.request_timeout_s), self._settings.token_refresh_margin_s)
        try:
            tokens.header()
        except TokenRefused as exc:
            client.close()
            raise UnreachableError(f"RBM: {exc}; check COURRIER_RBM_SERVICE_ACCOUNT_FILE") from None
        except TokenUnavailable as exc:
            client.close()
            raise UnreachableError(f"RBM: {exc} (token_uri {self._key['token_uri']})") from None
        self._client, self._tokens = client, tokens
        self._pool = ThreadPoolExecutor(max_workers=self._settings.concurrency, thread_name_prefix=f"{self.name}-submit")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def tokens(self) -> TokenSource:
        """The access tokens of this adapter (open first)."""
        assert self._tokens is not None, "open() first"
        return self._tokens

    # Submitting ----------------------------------------------------------------------------------------------

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """One final result per submission, in input order, within ``timeout_s`` (plus a second for answers in flight):
        what could not start in time is transient ``not_submitted``; what started without an answer, ``timeout``."""
        assert self._pool is not None, "open() first"
        return submit_in_order(self._pool, submissions, timeout_s, self._send)

    def reconcile(self, message_id: str, channel: str = "RCS") -> SubmitResult | None:
        """Settle a send whose answer was lost by sending it again with the same messageId: 200 (it had not arrived,
        it has now, once) or 409 (it had) → accepted; 404 → None (RBM does not have it and will not take it: a
        resubmit fails it as not capable). ``TransientError`` when RBM cannot say now.

        A message this process did not send (a restart since) is answered None: dispatch then submits it again,
        which carries the same messageId, so RBM still makes it at most once."""
        with self._unsettled_lock:
            unsettled = self._unsettled.get(message_id)
        if unsettled is None:
            return None
        try:
            answer = self._post(unsettled, min(self._settings.request_timeout_s, LOOKUP_TIMEOUT_S), message_id)
        except _NotSent as refused:
            raise TransientError(f"{self.name}: {message_id} cannot be resent now ({refused.result.detail})") from None
        if answer.status_code in (200, 409):
            self._settle(message_id)
            self._auth_ok()
            return SubmitResult(message_id, True, [rbm_message_id(message_id)], None, False, "reconciled")
        if answer.status_code == 404:
            self._settle(message_id)
            return None
        raise TransientError(f"{self.name}: resending {message_id} to settle it answered HTTP {answer.status_code}")

    def revoke(self, message_id: str, destination: str) -> bool | None:
        """Withdraw the message submitted as ``message_id`` if it is not delivered yet: True when RBM withdrew it (200),
        False when it was delivered already (404: nothing left to withdraw), None when RBM cannot say now.

        RBM's guide: a 200 confirms the revocation; a 404 means it failed because the message was delivered. A
        delivery racing the revocation is reported by a DELIVERED event shortly after a 200 (rare)."""
        assert self._client is not None, "open() first"
        path = f"/v1/phones/{quote(destination, safe='+')}/agentMessages/{rbm_message_id(message_id)}"
        try:
            answer = self._client.delete(path, params={"agentId": self._agent}, headers={"Authorization": self.tokens.header()},
                                         timeout=min(self._settings.request_timeout_s, LOOKUP_TIMEOUT_S))
        except (httpx.HTTPError, TokenRefused, TokenUnavailable) as exc:
            log.warning("RBM revoke not answered", extra={"provider": self.name, "message_id": message_id, "error": type(exc).__name__})
            return None
        if answer.status_code == 200:
            return True
        if answer.status_code == 404:
            return False
        if answer.status_code in (401, 403):
            self._auth_failed(answer.status_code)
        log.warning("RBM revoke refused", extra={"provider": self.name, "message_id": message_id, "status": answer.status_code})
        return None

    def _send(self, submission: Submission, deadline: float) -> SubmitResult:
        message_id = submission.message_id
        if submission.channel not in CHANNELS:
            return SubmitResult(message_id, False, [], "channel_not_supported", False, "channel_not_supported")
        provider_id = rbm_message_id(message_id)
        try:
            body = agent_message(submission.rcs_json, submission.text, submission.expires_at, postback(provider_id))
        except BadRcsContent:
            return SubmitResult(message_id, False, [], "invalid_rcs_content", False, "invalid_rcs_content")
        request = _Request(f"/v1/phones/{quote(submission.destination, safe='+')}/agentMessages",
                           {"messageId": provider_id, "agentId": self._agent}, body)
        for attempt in range(self._settings.throttle_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return transient(message_id, "429" if attempt else None, "throttled" if attempt else "not_submitted")
            # Remembered before it leaves: if the answer is lost, this is what ``reconcile`` sends again.
            self._remember(message_id, request)
            try:
                answer = self._post(request, min(self._settings.request_timeout_s, remaining), message_id)
            except _NotSent as refused:
                self._settle(message_id)
                return refused.result
            except _Lost as lost:
                return self._unknown(submission, lost.why, deadline)
            if answer.status_code == 429:
                self._settle(message_id)
                wait_s = retry_after(answer)
                if attempt < self._settings.throttle_retries and time.monotonic() + wait_s < deadline:
                    time.sleep(wait_s)
                    continue
                return transient(message_id, _status(answer) or "429", "throttled")
            return self._answered(submission, answer, deadline)
        raise AssertionError("unreachable: the loop returns")

    def _post(self, request: _Request, timeout_s: float, message_id: str) -> httpx.Response:
        """The request sent once. ``_NotSent`` when it certainly did not leave (no token, connection refused);
        ``TransientError`` (``delay_s`` naming why) when it left and no answer came back."""
        assert self._client is not None
        try:
            authorization = self.tokens.header()
        except TokenRefused as exc:
            self._auth_failed("token", str(exc))
            raise _NotSent(transient(message_id, "token_refused", AUTH_FAILED)) from None
        except TokenUnavailable:
            raise _NotSent(transient(message_id, "token_unavailable", "provider_unreachable")) from None
        try:
            return self._client.post(request.path, params=request.params, json=request.body,
                                     headers={"Authorization": authorization}, timeout=timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _NotSent(transient(message_id, type(exc).__name__, "provider_unreachable")) from None
        except httpx.TimeoutException:
            raise _Lost("timeout") from None
        except httpx.HTTPError:
            raise _Lost("connection_lost") from None

    def _answered(self, submission: Submission, answer: httpx.Response, deadline: float) -> SubmitResult:
        message_id, status, word = submission.message_id, answer.status_code, _status(answer)
        provider_id = rbm_message_id(message_id)
        if status in (200, 409):
            self._settle(message_id)
            self._auth_ok()
            return SubmitResult(message_id, True, [provider_id], None, False, "already_accepted" if status == 409 else None)
        if status >= 500 and status != 503:  # a server error may come after the message was made
            return self._unknown(submission, "connection_lost", deadline)
        self._settle(message_id)  # a refusal: certainly not made
        if status == 503:
            return transient(message_id, word or "503", "provider_unavailable")
        if status in (401, 403):
            if status == 401:
                self.tokens.invalidate()
            self._auth_failed(status)
            return transient(message_id, word or str(status), AUTH_FAILED)
        self._auth_ok()
        return SubmitResult(message_id, False, [], word or str(status), False, api_reason(word))

    def _unknown(self, submission: Submission, why: str, deadline: float) -> SubmitResult:
        """An answer lost after the request left: resend it at once if time remains (the same messageId: RBM makes
        it at most once); unsettled, it stays remembered for ``reconcile``."""
        if deadline - time.monotonic() > 0:
            try:
                found = self.reconcile(submission.message_id, submission.channel)
            except TransientError:
                found = None
            if found is not None:
                return found
        log.info("RBM submit outcome unknown", extra={"provider": self.name, "message_id": submission.message_id, "why": why})
        return transient(submission.message_id, why, why)

    # Bookkeeping ---------------------------------------------------------------------------------------------

    def _remember(self, message_id: str, request: _Request) -> None:
        with self._unsettled_lock:
            self._unsettled[message_id] = request
            while len(self._unsettled) > MAX_UNSETTLED:
                self._unsettled.popitem(last=False)

    def _settle(self, message_id: str) -> None:
        with self._unsettled_lock:
            self._unsettled.pop(message_id, None)

    def _auth_failed(self, cause: int | str, detail: str = "") -> None:
        AUTH_FAILURES.labels(self.name, str(cause)).inc()
        if not self._auth_failing:
            self._auth_failing = True
            log.error("RBM refused our credentials; RCS messages wait until COURRIER_RBM_SERVICE_ACCOUNT_FILE and "
                      "COURRIER_RBM_AGENT_ID are fixed", extra={"provider": self.name, "cause": str(cause), "detail": detail[:200]})

    def _auth_ok(self) -> None:
        if self._auth_failing:
            self._auth_failing = False
            log.info("RBM accepts our credentials again", extra={"provider": self.name})


class _NotSent(Exception):
    """A send that certainly did not leave, with the result it gets."""

    def __init__(self, result: SubmitResult) -> None:
        super().__init__(result.detail)
        self.result = result


class _Lost(TransientError):
    """A send that left without an answer; ``why`` is the result's detail (``timeout`` or ``connection_lost``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _status(answer: httpx.Response) -> str | None:
    """RBM's ``error.status`` (google.rpc.Code name, e.g. NOT_FOUND), when the answer is one of Google's errors."""
    error = json_object(answer).get("error")
    status = error.get("status") if isinstance(error, dict) else None
    return str(status) if status else None
