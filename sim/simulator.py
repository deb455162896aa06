"""The simulator's behaviour, apart from HTTP: each provider call answered as a ``Reply`` (status, JSON body, headers,
and how long to hold the answer), with the configured faults applied.

Order for a send: provider down → bad request → a drawn refusal (permanent, transient, throttled) → not RCS-capable
(RBM) → already known (RBM 409, aggregator 200, counted as an attempt) → accepted (counted, events planned) →
maybe answered late (``timeout_rate``: accepted first, so a client that gave up must look it up, not resend).
"""
from __future__ import annotations

import random
import secrets
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from processors.render.segments import count as count_segments
from sim import events
from sim.faults import Faults
from sim.store import PROVIDERS, MessageStore, SimMessage
from sim.webhooks import WebhookSender

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TTL = re.compile(r"^(\d{1,9}(?:\.\d{1,9})?)s$")  # protobuf Duration in JSON: seconds with up to 9 decimals
MAX_BATCH_USERS = 10_000
MAX_REF_LENGTH = 128
MAX_RBM_TEXT = 3072
MAX_SMS_TEXT = 1600
MAX_MEDIA = 10
RBM_CONTENT_KINDS = ("text", "richCard", "contentInfo", "uploadedRbmFile")


class _SendBody(BaseModel):
    """The shape of ``POST /v1/messages``."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "mms"]
    from_: str = Field(alias="from", min_length=1, max_length=32)
    to: str
    text: str | None = Field(None, max_length=MAX_SMS_TEXT)
    media_urls: list[str] = Field(default_factory=list, max_length=MAX_MEDIA)
    client_ref: str = Field(min_length=1, max_length=MAX_REF_LENGTH)
    expire_at: AwareDatetime | None = None  # never delivered after it: EXPIRED instead


@dataclass(frozen=True)
class Reply:
    """An answer to give: status, JSON body, extra headers, and seconds to wait before giving it."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = dataclass_field(default_factory=dict)
    hold_s: float = 0.0


def rbm_error(status: int, code: str, message: str) -> Reply:
    """An error in Google's shape: ``{"error": {"code": 404, "message": …, "status": "NOT_FOUND"}}``."""
    return Reply(status, {"error": {"code": status, "message": message, "status": code}})


def aggregator_error(status: int, code: str, message: str) -> Reply:
    """An error in the aggregator's shape: ``{"error": {"code": "invalid_number", "message": …}}``."""
    return Reply(status, {"error": {"code": code, "message": message}})


@dataclass(frozen=True)
class SimOptions:
    """What the simulator starts with: its token, where and how it signs webhooks, and its memory bounds.

    ``webhook_secret`` None: the simulator signs with a random secret of its own that no receiver knows, so its
    webhooks are refused; there is no built-in secret a forger could sign with too. The token is the local
    simulator's own (``courrier.config.LOCAL_SIM_TOKEN``): it guards a loopback test double, nothing real."""

    token: str = "courrier-dev-token"
    webhook_url: str | None = "http://127.0.0.1:18091/webhooks/sim"
    webhook_secret: str | None = None
    max_messages: int = 100_000
    max_pending_events: int = 200_000


class Simulator:
    """Faults, the message store and the webhook queue; every method runs on the server's one event loop."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.webhooks = WebhookSender(options.webhook_secret or secrets.token_urlsafe(32), options.max_pending_events)
        self.reset()

    def reset(self) -> None:
        """Back to the start: default faults, nothing stored, no event waiting, counters at zero."""
        self.faults = Faults(webhook_url=self.options.webhook_url)
        self.rng = random.Random()
        self.store = MessageStore(self.options.max_messages)
        self.refused: Counter[str] = Counter()
        self.capability_checks = 0
        self.webhooks.clear()

    def configure(self, changes: dict[str, Any]) -> Faults:
        """Apply part of a configuration; raises ``ValidationError`` (nothing changed) when it does not hold."""
        self.faults = self.faults.updated(changes)
        if "seed" in changes:
            self.rng = random.Random(self.faults.seed)
        return self.faults

    # RBM ---------------------------------------------------------------------------------------------------

    def capability(self, e164: str) -> Reply:
        if (down := self._down(rbm=True, capability=True)) is not None:
            return down
        if not E164.match(e164):
            return rbm_error(400, "INVALID_ARGUMENT", f"{e164!r} is not an E.164 number")
        self.capability_checks += 1
        if not self.faults.rcs_capable.capable(e164):
            return rbm_error(404, "NOT_FOUND", "Requested entity was not found.")
        return Reply(200, {"features": ["RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_CREATE_CALENDAR_EVENT",
                                        "ACTION_DIAL", "ACTION_OPEN_URL", "ACTION_SHARE_LOCATION", "ACTION_VIEW_LOCATION"]})

    def batch_get(self, body: Any) -> Reply:
        if (down := self._down(rbm=True, capability=True)) is not None:
            return down
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return rbm_error(400, "INVALID_ARGUMENT", "body must be {\"users\": [\"+E164\", …]}")
        if len(users) > MAX_BATCH_USERS:
            return rbm_error(400, "INVALID_ARGUMENT", f"at most {MAX_BATCH_USERS} users per call, got {len(users)}")
        self.capability_checks += len(users)
        capable = self.faults.rcs_capable.capable
        return Reply(200, {"reachableUsers": [u for u in dict.fromkeys(users) if E164.match(u) and capable(u)]})

    def agent_message(self, e164: str, message_id: str | None, body: Any) -> Reply:
        if (down := self._down(rbm=True)) is not None:
            return down
        if not E164.match(e164):
            return rbm_error(400, "INVALID_ARGUMENT", f"{e164!r} is not an E.164 number")
        if not message_id or len(message_id) > MAX_REF_LENGTH:
            return rbm_error(400, "INVALID_ARGUMENT", f"messageId is required (1 to {MAX_REF_LENGTH} characters)")
        problem = _rbm_content_problem(body)
        now = datetime.now(timezone.utc)
        expires_at = _rbm_expiry(body, now)
        if problem or isinstance(expires_at, str):
            return rbm_error(400, "INVALID_ARGUMENT", problem or str(expires_at))
        if (refusal := self._refusal(rbm=True)) is not None:
            return refusal
        if not self.faults.rcs_capable.capable(e164):
            self.refused["not_capable"] += 1
            return rbm_error(404, "NOT_FOUND", "Requested entity was not found.")
        message, created = self.store.submit("rbm", message_id, "rcs", e164, None, 1, now, expires_at=expires_at)
        if not created:
            return rbm_error(409, "ALREADY_EXISTS", f"message {message_id} already exists")
        self._plan(message, now)
        return self._maybe_late(Reply(200, {"name": f"phones/{e164}/agentMessages/{message_id}", "sendTime": _iso(now)}))

    # Aggregator --------------------------------------------------------------------------------------------

    def aggregator_send(self, body: Any) -> Reply:
        if (down := self._down(rbm=False)) is not None:
            return down
        if isinstance(problem := _aggregator_problem(body), Reply):
            return problem
        if (refusal := self._refusal(rbm=False)) is not None:
            return refusal
        now = datetime.now(timezone.utc)
        channel, text, media = body["channel"], body.get("text") or "", list(body.get("media_urls") or [])
        segments = count_segments(text).segments if channel == "sms" else 1
        expires_at = _SendBody.model_validate(body).expire_at
        message, created = self.store.submit("aggregator", body["client_ref"], channel, body["to"], body["from"], segments, now, media,
                                             expires_at)
        if not created:
            return Reply(200, self._accepted(message))
        self._plan(message, now)
        return self._maybe_late(Reply(201, self._accepted(message)))

    def lookup(self, client_ref: str | None, provider: str) -> Reply:
        if (down := self._down(rbm=False)) is not None:
            return down
        if provider not in PROVIDERS:
            return aggregator_error(400, "invalid_request", f"provider must be one of {', '.join(PROVIDERS)}")
        if not client_ref:
            return aggregator_error(400, "invalid_request", "client_ref is required")
        message = self.store.find(provider, client_ref)
        if message is None:
            return aggregator_error(404, "not_found", f"no message with client_ref {client_ref!r}")
        return Reply(200, message.as_json(datetime.now(timezone.utc)))

    # Control -----------------------------------------------------------------------------------------------

    def inbound(self, body: Any) -> Reply:
        """Post an inbound event now: ``{"from": e164, "to": sender, "text": str, "provider"?: "aggregator"|"rbm"}``."""
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("from", "to", "text")):
            return aggregator_error(400, "invalid_request", "body must be {\"from\": \"+E164\", \"to\": sender, \"text\": …}")
        provider = body.get("provider", "aggregator")
        if provider not in PROVIDERS:
            return aggregator_error(400, "invalid_request", f"provider must be one of {', '.join(PROVIDERS)}")
        if self.faults.webhook_url is None:
            return aggregator_error(409, "no_webhook_url", "webhooks are off (webhook_url is null)")
        now = datetime.now(timezone.utc)
        item = events.event("inbound", provider, now, message_id=f"in-{self.rng.getrandbits(64):016x}", sender=body["from"],
                            recipient=body["to"], text=body["text"])
        self.webhooks.schedule(self.faults.webhook_url, [events.Planned(0.0, item)], self.faults.webhook_attempts)
        return Reply(202, {"event_id": item["event_id"]})

    def stats(self, prefix: str = "") -> dict[str, Any]:
        counts = self.webhooks.counts
        return {"submissions": self.store.submissions(prefix), "submissions_by_provider": self.store.submissions_by_provider(prefix),
                "total": self.store.total, "by_channel": dict(self.store.by_channel), "messages": len(self.store),
                "evicted": self.store.evicted, "refused": dict(self.refused), "capability_checks": self.capability_checks,
                "webhooks": {"posted": counts.posted, "retried": counts.retried, "failed": counts.failed,
                             "dropped": counts.dropped, "pending": self.webhooks.pending}}

    # Faults ------------------------------------------------------------------------------------------------

    def _down(self, rbm: bool, capability: bool = False) -> Reply | None:
        if self.faults.down or (capability and self.faults.capability_down):
            self.refused["down"] += 1
            what = "the capability API" if capability and not self.faults.down else "the provider"
            if rbm:
                return rbm_error(503, "UNAVAILABLE", f"{what} is down (simulated)")
            return aggregator_error(503, "unavailable", f"{what} is down (simulated)")
        return None

    def _refusal(self, rbm: bool) -> Reply | None:
        draw, faults = self.rng.random(), self.faults
        if draw < faults.error_rate:
            self.refused["permanent"] += 1
            if rbm:
                return rbm_error(400, "FAILED_PRECONDITION", "message refused (simulated permanent error)")
            return aggregator_error(400, "carrier_rejected", "message refused (simulated permanent error)")
        if draw < faults.error_rate + faults.transient_error_rate:
            self.refused["transient"] += 1
            if rbm:
                return rbm_error(503, "UNAVAILABLE", "try again later (simulated transient error)")
            return aggregator_error(503, "unavailable", "try again later (simulated transient error)")
        if draw < faults.error_rate + faults.transient_error_rate + faults.throttle_rate:
            self.refused["throttled"] += 1
            reply = (rbm_error(429, "RESOURCE_EXHAUSTED", "quota exceeded (simulated)") if rbm
                     else aggregator_error(429, "rate_limited", "too many requests (simulated)"))
            return Reply(reply.status, reply.body, {"Retry-After": "1"})
        return None

    def _maybe_late(self, reply: Reply) -> Reply:
        if self.rng.random() < self.faults.timeout_rate:
            return Reply(reply.status, reply.body, reply.headers, self.faults.timeout_hold_ms / 1000)
        return reply

    def _plan(self, message: SimMessage, now: datetime) -> None:
        planned = events.plan(message, self.faults.for_provider(message.provider), self.rng, now)
        self.webhooks.schedule(self.faults.webhook_url, planned, self.faults.webhook_attempts)

    @staticmethod
    def _accepted(message: SimMessage) -> dict[str, Any]:
        return {"id": message.id, "client_ref": message.client_ref, "status": "accepted", "segments": message.segments}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rbm_content_problem(body: Any) -> str | None:
    """Why an agentMessages body is not ``{"contentMessage": {exactly one of text, richCard, contentInfo…}}``, or None."""
    content = body.get("contentMessage") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        return "body must be {\"contentMessage\": {…}}"
    kinds = [k for k in RBM_CONTENT_KINDS if k in content]
    if len(kinds) != 1:
        return f"contentMessage needs exactly one of {', '.join(RBM_CONTENT_KINDS)}"
    if "text" in content and (not isinstance(content["text"], str) or not 0 < len(content["text"]) <= MAX_RBM_TEXT):
        return f"contentMessage.text must be 1 to {MAX_RBM_TEXT} characters"
    card = content.get("richCard")
    if card is not None and (not isinstance(card, dict) or len(set(card) & {"standaloneCard", "carouselCard"}) != 1):
        return "richCard needs exactly one of standaloneCard, carouselCard"
    suggestions = content.get("suggestions", [])
    if not isinstance(suggestions, list) or len(suggestions) > 11:
        return "suggestions must be a list of at most 11"
    return None


def _rbm_expiry(body: dict[str, Any], now: datetime) -> datetime | None | str:
    """An agentMessages body's expiration, as RBM takes it: ``expireTime`` (RFC 3339) or ``ttl`` (a duration such as
    ``"3.5s"``), at most one of them; None without either; a ``str`` saying why when it is malformed."""
    expire_time, ttl = body.get("expireTime"), body.get("ttl")
    if expire_time is not None and ttl is not None:
        return "expireTime and ttl are one of: give at most one"
    if expire_time is not None:
        try:
            moment = datetime.fromisoformat(str(expire_time).replace("Z", "+00:00"))
        except ValueError:
            return f"expireTime {expire_time!r} is not an RFC 3339 timestamp"
        return moment if moment.tzinfo is not None else f"expireTime {expire_time!r} has no offset"
    if ttl is not None:
        match = TTL.match(str(ttl))
        if match is None:
            return f"ttl {ttl!r} is not a duration in seconds such as \"3.5s\""
        return now + timedelta(seconds=float(match.group(1)))
    return None


def _aggregator_problem(body: Any) -> Reply | None:
    """A 400 for a send body that breaks the contract, or None."""
    if not isinstance(body, dict):
        return aggregator_error(400, "invalid_request", "body must be a JSON object")
    try:
        _SendBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return aggregator_error(400, "invalid_request", f"{where}: {first['msg']}")
    if not E164.match(body["to"]):
        return aggregator_error(400, "invalid_number", f"{body['to']!r} is not an E.164 number")
    media = body.get("media_urls") or []
    if body["channel"] == "sms" and media:
        return aggregator_error(400, "media_not_allowed", "an SMS carries no media; send it as mms")
    if body["channel"] == "sms" and not body.get("text"):
        return aggregator_error(400, "empty_message", "an SMS needs text")
    if body["channel"] == "mms" and not media and not body.get("text"):
        return aggregator_error(400, "empty_message", "an MMS needs text or media")
    return None

