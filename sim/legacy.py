"""The simulator's own SMS/MMS aggregator API and event shape, kept beside the real providers' while Courrier's generic
HTTP provider (``processors.providers.sim.adapter``) and the legacy webhook parser (``processors.providers.sim.webhook``) use them.

- ``POST /v1/messages`` ``{"channel": "sms"|"mms", "from", "to", "text", "media_urls", "client_ref", "expire_at"?}``
  → 201 ``{"id", "client_ref", "status": "accepted", "segments"}``; the same ``client_ref`` again → 200, the same id.
- ``GET /v1/messages?client_ref=&provider=aggregator|rbm`` → the message, or 404.
- errors ``{"error": {"code": "invalid_number", "message": …}}``; every route behind ``Authorization: Bearer <token>``.
- events: ``sim.events.legacy_event``, posted to ``Faults.webhook_url``.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from processors.render.segments import count as count_segments
from sim import events
from sim.reply import Reply, aggregator_error
from sim.simulator import Post, Refusal, Simulator
from sim.store import PROVIDERS, SimMessage

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_REF_LENGTH = 128
MAX_SMS_TEXT = 1600
MAX_MEDIA = 10
PROVIDER = "aggregator"


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


class LegacyAggregator:
    """The legacy aggregator's send and lookup, and the legacy shape of every event (RBM's legacy route's too)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def send(self, body: Any) -> Reply:
        if self.sim.down():
            return aggregator_error(503, "unavailable", "the provider is down (simulated)")
        if isinstance(problem := _problem(body), Reply):
            return problem
        draw = self.sim.draw(PROVIDER)
        if draw.refusal is not None:
            return refusal_reply(draw.refusal)
        send = _SendBody.model_validate(body)
        now = datetime.now(timezone.utc)
        text, media = send.text or "", list(send.media_urls)
        segments = count_segments(text).segments if send.channel == "sms" else 1
        message, created = self.sim.store.submit(PROVIDER, send.client_ref, send.channel, send.to, send.from_, segments, now, media,
                                                 send.expire_at)
        if not created:
            return Reply(200, _accepted(message))
        self.sim.accept(message, now, self.render)
        return self.sim.answer(Reply(201, _accepted(message)), draw)

    def lookup(self, client_ref: str | None, provider: str) -> Reply:
        if self.sim.down():
            return aggregator_error(503, "unavailable", "the provider is down (simulated)")
        if provider not in PROVIDERS:
            return aggregator_error(400, "invalid_request", f"provider must be one of {', '.join(PROVIDERS)}")
        if not client_ref:
            return aggregator_error(400, "invalid_request", "client_ref is required")
        message = self.sim.store.find(provider, client_ref)
        if message is None:
            return aggregator_error(404, "not_found", f"no message with client_ref {client_ref!r}")
        return Reply(200, message.as_json(datetime.now(timezone.utc)))

    def render(self, message: SimMessage, planned: events.Planned, _now: datetime) -> Post | None:
        """A step as a legacy event to ``webhook_url`` (None when there is none)."""
        url = self.sim.faults.webhook_url
        return None if url is None else Post(url, events.encode(events.legacy_event(message, planned.step)))

    def inbound(self, provider: str, sender: str, to: str, text: str) -> Reply:
        """A legacy inbound event, posted now (409 when webhooks are off)."""
        url = self.sim.faults.webhook_url
        if url is None:
            return aggregator_error(409, "no_webhook_url", "webhooks are off (webhook_url is null)")
        now = datetime.now(timezone.utc)
        item = events.event("inbound", provider, now, message_id=f"in-{self.sim.rng.getrandbits(64):016x}", sender=sender,
                            recipient=to, text=text)
        self.sim.post(Post(url, events.encode(item)))
        return Reply(202, {"event_id": item["event_id"]})


def refusal_reply(refusal: Refusal) -> Reply:
    """A refused send in the legacy aggregator's words."""
    if refusal is Refusal.THROTTLED:
        return Reply(429, aggregator_error(429, "rate_limited", "too many requests (simulated)").body, {"Retry-After": "1"})
    status, code, message = {
        Refusal.PERMANENT: (400, "carrier_rejected", "message refused (simulated permanent error)"),
        Refusal.TRANSIENT: (503, "unavailable", "try again later (simulated transient error)"),
        Refusal.UNAUTHORIZED: (401, "unauthorized", "bad or missing bearer token (simulated)"),
        Refusal.FORBIDDEN: (403, "forbidden", "this token may not send (simulated)"),
    }[refusal]
    return aggregator_error(status, code, message)


def _accepted(message: SimMessage) -> dict[str, Any]:
    return {"id": message.id, "client_ref": message.client_ref, "status": "accepted", "segments": message.segments}


def _problem(body: Any) -> Reply | None:
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

