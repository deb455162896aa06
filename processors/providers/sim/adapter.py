"""HTTP provider: SMS and MMS through an aggregator's REST API, RCS through an RBM-shaped API (the simulator's, see ``sim``).

Never twice: each send carries the message id as its client reference (aggregator ``client_ref``, RBM
``messageId``); a 200-existing or a 409 ALREADY_EXISTS means "accepted before" and is reported as accepted. A send
whose answer is lost (read timeout, dropped connection, a 5xx other than 503) has an unknown outcome: it is looked
up once at once, and otherwise reported transient with detail ``timeout`` or ``connection_lost`` so dispatch
reconciles it (``reconcile``) instead of sending again. Refusals: 429 is retried within the call after Retry-After,
503 and refused connections are transient (not sent), other 4xx are permanent with the provider's code.

Concurrency (``processors.providers.http_submit``): up to ``concurrency`` requests at once from a thread pool, one
destination's messages one after the other in input order (a recipient's messages leave in order). Delivery reports
and inbound messages arrive as webhooks at the receiver, not here: ``on_report`` and ``on_inbound`` are accepted for
the factory's sake and unused.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Sequence
from urllib.parse import quote

import httpx

from common.errors import TransientError, UnreachableError
from processors.dispatch.provider import InboundCallback, ReportCallback, Submission, SubmitResult
from processors.providers.http_submit import json_object as _json
from processors.providers.http_submit import retry_after as _retry_after
from processors.providers.http_submit import submit_in_order
from processors.providers.http_submit import transient as _transient
from processors.providers.rbm.content import BadRcsContent, content_message

log = logging.getLogger(__name__)
LOOKUP_TIMEOUT_S = 5.0
# RBM error statuses as the reason a failed receipt carries.
RBM_REASONS = {"NOT_FOUND": "rcs_not_capable", "INVALID_ARGUMENT": "invalid_request", "PERMISSION_DENIED": "provider_rejected",
               "FAILED_PRECONDITION": "provider_rejected"}


class HttpProvider:
    """The aggregator (SMS, MMS) and RBM (RCS) APIs at ``base_url`` with one bearer ``token``."""

    def __init__(self, base_url: str, token: str, *, on_report: ReportCallback | None = None,
                 on_inbound: InboundCallback | None = None, name: str = "http:sim", concurrency: int = 16,
                 request_timeout_s: float = 10.0, throttle_retries: int = 3, transport: httpx.BaseTransport | None = None) -> None:
        if concurrency < 1 or request_timeout_s <= 0 or throttle_retries < 0:
            raise ValueError("concurrency must be at least 1, request_timeout_s positive, throttle_retries not negative")
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._on_report, self._on_inbound = on_report, on_inbound
        self._concurrency = concurrency
        self._timeout_s = request_timeout_s
        self._throttle_retries = throttle_retries
        self._transport = transport
        self._client: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None

    # Lifecycle -----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and check the token with a lookup; ``UnreachableError`` when nothing answers or the token is refused."""
        if self._client is not None:
            return
        limits = httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency)
        client = httpx.Client(base_url=self._base_url, headers={"Authorization": f"Bearer {self._token}"}, limits=limits,
                              timeout=self._timeout_s, transport=self._transport)
        try:
            probe = client.get("/v1/messages", params={"client_ref": "courrier-open-probe"})
        except httpx.HTTPError as exc:
            client.close()
            raise UnreachableError(f"HTTP provider {self._base_url} did not answer ({type(exc).__name__}); "
                                   "run `courrier infra up sim` or set COURRIER_SIM_URL") from exc
        if probe.status_code in (401, 403):
            client.close()
            raise UnreachableError(f"HTTP provider {self._base_url} refused the token (HTTP {probe.status_code}); check COURRIER_SIM_TOKEN")
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix=f"{self.name}-submit")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # Submitting ----------------------------------------------------------------------------------------------

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        """One final result per submission, in input order, within ``timeout_s`` (plus a second for answers in flight).

        What could not start in time is transient ``not_submitted`` (never sent); what started and has no answer
        is transient ``timeout`` (unknown outcome: reconcile, never resend)."""
        assert self._pool is not None, "open() first"
        return submit_in_order(self._pool, submissions, timeout_s, self._send)

    def reconcile(self, message_id: str, channel: str = "SMS") -> SubmitResult | None:
        """What the provider knows of ``message_id``: accepted (with its id), or None when it never got it.

        Raises ``TransientError`` when the provider cannot say now (down, unreachable, an unexpected answer)."""
        assert self._client is not None, "open() first"
        params = {"client_ref": message_id, **({"provider": "rbm"} if channel == "RCS" else {})}
        try:
            answer = self._client.get("/v1/messages", params=params, timeout=min(self._timeout_s, LOOKUP_TIMEOUT_S))
        except httpx.HTTPError as exc:
            raise TransientError(f"{self.name} could not look up {message_id}: {type(exc).__name__}") from exc
        body = _json(answer)
        if answer.status_code == 200 and isinstance(body.get("id"), str):
            return SubmitResult(message_id, True, [body["id"]], None, False, "reconciled")
        if answer.status_code == 404 and _error(body)[0] == "not_found":
            return None
        raise TransientError(f"{self.name} lookup of {message_id} answered HTTP {answer.status_code}")

    def _send(self, submission: Submission, deadline: float) -> SubmitResult:
        assert self._client is not None
        try:
            path, params, body = self._request(submission)
        except BadRcsContent:
            return SubmitResult(submission.message_id, False, [], "invalid_rcs_content", False, "invalid_rcs_content")
        rcs = submission.channel == "RCS"
        for attempt in range(self._throttle_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _transient(submission.message_id, "429" if attempt else None, "throttled" if attempt else "not_submitted")
            try:
                answer = self._client.post(path, params=params, json=body, timeout=min(self._timeout_s, remaining))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                return _transient(submission.message_id, type(exc).__name__, "provider_unreachable")
            except httpx.TimeoutException:
                return self._unknown(submission, "timeout", deadline)
            except httpx.HTTPError:
                return self._unknown(submission, "connection_lost", deadline)
            if answer.status_code == 429:
                wait_s = _retry_after(answer)
                if attempt < self._throttle_retries and time.monotonic() + wait_s < deadline:
                    time.sleep(wait_s)
                    continue
                return _transient(submission.message_id, _error(_json(answer), rcs)[0] or "429", "throttled")
            return self._answered(submission, answer, deadline)
        raise AssertionError("unreachable: the loop returns")

    def _request(self, submission: Submission) -> tuple[str, dict[str, str], dict[str, Any]]:
        """Path, query and body of a send; the message's validity goes with it (RBM ``expireTime``, the aggregator's
        ``expire_at``, both RFC 3339 UTC), so the network drops it rather than deliver it late."""
        expires = None if submission.expires_at is None else _rfc3339(submission.expires_at)
        if submission.channel == "RCS":
            rbm: dict[str, Any] = {"contentMessage": content_message(submission.rcs_json, submission.text)}
            if expires is not None:
                rbm["expireTime"] = expires
            return f"/v1/phones/{quote(submission.destination, safe='+')}/agentMessages", {"messageId": submission.message_id}, rbm
        channel = "mms" if submission.channel == "MMS" else "sms"
        body: dict[str, Any] = {"channel": channel, "from": submission.sender_id, "to": submission.destination, "text": submission.text,
                                "media_urls": list(submission.media_urls) if channel == "mms" else [], "client_ref": submission.message_id}
        if expires is not None:
            body["expire_at"] = expires
        return "/v1/messages", {}, body

    def _answered(self, submission: Submission, answer: httpx.Response, deadline: float) -> SubmitResult:
        rcs, status, body = submission.channel == "RCS", answer.status_code, _json(answer)
        message_id = submission.message_id
        if status in (200, 201):
            provider_id = message_id if rcs else body.get("id")
            if not isinstance(provider_id, str):
                return self._unknown(submission, "connection_lost", deadline)  # accepted, but the answer is unreadable
            return SubmitResult(message_id, True, [provider_id], None, False, "already_accepted" if status == 200 and not rcs else None)
        code, reason = _error(body, rcs)
        if status == 409:  # already there: RBM names it by our id; an aggregator's id is looked up
            if rcs:
                return SubmitResult(message_id, True, [message_id], None, False, "already_accepted")
            return self._unknown(submission, "connection_lost", deadline)
        if status == 503:
            return _transient(message_id, code or "503", "provider_unavailable")
        if status in (401, 403):  # our configuration, not the message: keep it for after the fix
            return _transient(message_id, code or str(status), "provider_auth_failed")
        if status >= 500:
            return self._unknown(submission, "connection_lost", deadline)
        return SubmitResult(message_id, False, [], code or str(status), False, reason or "provider_rejected")

    def _unknown(self, submission: Submission, why: str, deadline: float) -> SubmitResult:
        """An answer lost after the request left: look it up once if time remains, else leave it to ``reconcile``."""
        if deadline - time.monotonic() > 0:
            try:
                found = self.reconcile(submission.message_id, submission.channel)
            except TransientError:
                found = None
            if found is not None:
                return found
        log.info("HTTP submit outcome unknown", extra={"provider": self.name, "message_id": submission.message_id, "why": why})
        return _transient(submission.message_id, why, why)


def _rfc3339(moment: datetime) -> str:
    """A UTC timestamp as Google's APIs write them: ``2026-03-02T09:00:00.000Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(body: dict[str, Any], rcs: bool = False) -> tuple[str | None, str | None]:
    """The provider's error code and the reason a receipt carries: RBM's ``status`` mapped, the aggregator's ``code`` as is."""
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None
    if rcs:
        status = error.get("status")
        return (str(status), RBM_REASONS.get(str(status), "provider_rejected")) if status else (None, None)
    code = error.get("code")
    return (str(code), str(code)) if code else (None, None)
