"""One webhook request, start to answer: authenticate, read, refuse replays, publish, answer — and count every refusal.

Answers:

| status | reason | when |
|---|---|---|
| 200 | – | the event's records are on their topics (Kafka acknowledged them) |
| 200 | – | a provider's verification handshake (``Parsed.reply``): its text answered as is, nothing published or remembered |
| 200 | replayed | an event accepted within the replay window, sent again: nothing is published twice, and the provider stops retrying |
| 400 | invalid_encoding, too_deep | a signed body that is not UTF-8 or nests too deep to parse safely (checked after the signature) |
| 400 | malformed_json, unknown_field, invalid_event | a body the provider's parser cannot read |
| 401 | unsigned, bad_timestamp, stale_timestamp | a request that is not signed, or signed too long ago |
| 403 | bad_signature | a request signed with another secret, or over another body (a forgery or a misconfigured secret) |
| 404 | unknown_provider | no provider by that name |
| 409 | in_progress | the same event is being published by another request right now: retry |
| 413 | too_large | a body over the cap (checked while it streams in) |
| 503 | publish_failed | Kafka did not acknowledge the records: retry, nothing is lost |

Every answer but a plain 200 is counted in ``courrier_webhook_rejected_total{provider, reason}`` and logged (reason
and message only: no secret, no signature, no body; phone numbers masked by the log formatter).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from processors.runtime.stage import Output
from processors.web.webhook_contract import Rejected, WebhookProvider
from processors.web.bodies import check_json
from processors.web.errors import ApiError
from processors.webhooks.replay import Claim, ReplayGuard

log = logging.getLogger(__name__)

# Records to publish → per record None (acknowledged) or why not; blocks until every report is in.
Publish = Callable[[Sequence[Output]], list[str | None]]


@dataclass(frozen=True)
class Answer:
    """The HTTP answer: status and JSON body, or the plain ``text`` a provider's handshake expects instead."""

    status: int
    body: dict[str, Any]
    text: str | None = None


class WebhookMetrics:
    """The receiver's counters, in a registry of its own (several receivers may share a test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("courrier_webhook_accepted", "Webhook events published, by provider and topic", ["provider", "topic"],
                                registry=self.registry)
        self.rejected = Counter("courrier_webhook_rejected", "Webhook requests not published, by provider and reason", ["provider", "reason"],
                                registry=self.registry)


class WebhookService:
    """Handles requests for a set of providers; thread-safe (requests are served from a thread pool)."""

    def __init__(self, providers: Mapping[str, WebhookProvider], publish: Publish, replays: ReplayGuard, metrics: WebhookMetrics,
                 max_body_bytes: int, clock: Callable[[], float] = time.time,
                 prepare: Callable[[Sequence[Output]], Sequence[Output]] | None = None) -> None:
        """``prepare`` completes an event's records before they are published, once per event (not for a replay):
        ``processors.webhooks.inbound_media`` stores inbound media in S3."""
        self.providers = providers
        self._prepare = prepare
        self.replays = replays
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self._publish = publish
        self._clock = clock

    def handle(self, provider: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request; ``headers`` with lower-case names."""
        now = self._clock()
        hook = self.providers.get(provider)
        try:
            if hook is None:
                raise Rejected(404, "unknown_provider", f"no webhook provider by that name; known: {', '.join(sorted(self.providers))}")
            if len(body) > self.max_body_bytes:
                raise self.too_large()
            signature = hook.verify(headers, body, now)
            _readable(body)
            parsed = hook.parse(body)
        except Rejected as rejected:
            return self.refuse(provider, rejected)
        if parsed.reply is not None and not parsed.outputs:  # not an event: a provider may repeat it, and expects its reply
            return Answer(200, {}, text=parsed.reply)
        key = f"{provider}:{parsed.event_id or signature}"
        claim = self.replays.claim(key, now)
        if claim is Claim.SEEN:
            self._count_refusal(provider, Rejected(200, "replayed", "this event was accepted already; it is not published again"))
            return Answer(200, {"status": "duplicate", "event_id": parsed.event_id})
        if claim is Claim.PENDING:
            return self.refuse(provider, Rejected(409, "in_progress", "the same event is being accepted by another request; retry"))
        outputs = self._prepare(parsed.outputs) if self._prepare is not None else parsed.outputs
        failures = [error for error in self._publish(outputs) if error is not None]
        if failures:
            self.replays.release(key)
            log.error("webhook event not acknowledged by Kafka", extra={"provider": provider, "error": failures[0][:300]})
            return self.refuse(provider, Rejected(503, "publish_failed", "Kafka did not acknowledge the event; retry later"))
        self.replays.confirm(key, now)
        for output in outputs:
            self.metrics.accepted.labels(provider, output.topic).inc()
        return Answer(200, {"status": "accepted", "event_id": parsed.event_id})

    @staticmethod
    def statuses() -> dict[int, str]:
        """Every status ``handle`` answers besides 200, described for the OpenAPI (the table above)."""
        return {400: "Unreadable body: invalid_encoding, too_deep, malformed_json, unknown_field, invalid_event.",
                401: "Not signed, or signed too long ago: unsigned, bad_timestamp, stale_timestamp.",
                403: "Signed with another secret or over another body: bad_signature.",
                404: "No provider by that name: unknown_provider.", 409: "The same event is being accepted right now: in_progress.",
                413: "Body over the cap: too_large.", 503: "Kafka did not acknowledge the records: publish_failed; retry."}

    def too_large(self) -> Rejected:
        return Rejected(413, "too_large", f"the body exceeds {self.max_body_bytes} bytes")

    def refuse(self, provider: str, rejected: Rejected) -> Answer:
        """The answer to a refused request, counted and logged."""
        self._count_refusal(provider, rejected)
        return Answer(rejected.status, {"errors": [{"code": rejected.reason, "message": rejected.message}]})

    def _count_refusal(self, provider: str, rejected: Rejected) -> None:
        # A name from the URL becomes a label only when it is a provider: strangers cannot grow the metric.
        label = provider if provider in self.providers else "unknown"
        self.metrics.rejected.labels(label, rejected.reason).inc()
        # A provider re-sending what it already delivered is routine, not a warning.
        level = logging.INFO if rejected.status < 300 else logging.WARNING
        log.log(level, "webhook request refused", extra={"provider": label, "status": rejected.status, "reason": rejected.reason,
                                                         "detail": rejected.message})


def _readable(body: bytes) -> None:
    """Refuse a body the parsers must not see: not UTF-8, or nested deep enough to exhaust the parser's recursion."""
    try:
        check_json(body)
    except ApiError as refused:
        raise Rejected(refused.status, refused.code, refused.message) from None
