"""Webhook events: their JSON body, their signature, and the plan of events an accepted message will produce.

Signature: ``X-Courrier-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>`` with
``X-Courrier-Timestamp: <unix seconds>``; the timestamp is the time of each post (a retry is signed again).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sim.faults import Faults
from sim.store import SimMessage

TIMESTAMP_HEADER = "X-Courrier-Timestamp"
SIGNATURE_HEADER = "X-Courrier-Signature"
# Error codes of the simulated failures: an aggregator's "unreachable handset" and RBM's TTL expiry.
UNDELIVERED_CODE = "30003"
EXPIRED_CODE = "TTL_EXPIRED"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Courrier-Signature`` value of ``body`` posted at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def encode(event: dict[str, object]) -> bytes:
    """The raw body of an event (compact JSON, UTF-8)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def event(kind: str, provider: str, occurred_at: datetime, *, message_id: str | None = None, client_ref: str | None = None,
          status: str | None = None, error_code: str | None = None, sender: str | None = None, recipient: str | None = None,
          text: str | None = None) -> dict[str, object]:
    """One webhook event as the contract shapes it (``from`` is a phone's E.164, ``to`` one of our senders)."""
    return {"event_id": str(uuid.uuid4()), "type": kind, "provider": provider, "message_id": message_id, "client_ref": client_ref,
            "status": status, "error_code": error_code, "from": sender, "to": recipient, "text": text,
            "occurred_at": occurred_at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}


@dataclass(frozen=True)
class Planned:
    """An event to post ``delay_s`` after the message was accepted."""

    delay_s: float
    event: dict[str, object]


def plan(message: SimMessage, faults: Faults, rng: random.Random, now: datetime) -> list[Planned]:
    """The events ``message`` will produce, with their posting delays: its final status (and SENT, READ) as drawn,
    reversed when ``reorder`` is on, each duplicated with ``duplicate_rate``. Records the drawn outcome on the message.
    A message drawn DELIVERED whose validity (``expires_at``) ends before its delivery is EXPIRED at that end instead."""
    draw = rng.random()
    if draw < faults.silent_rate:
        return []
    delay_s = faults.delivery_delay_ms / 1000
    if draw < faults.silent_rate + faults.undelivered_rate:
        final, code = "UNDELIVERED", UNDELIVERED_CODE
    elif draw < faults.silent_rate + faults.undelivered_rate + faults.expired_rate:
        final, code = "EXPIRED", EXPIRED_CODE
    else:
        final, code = "DELIVERED", None
    if final == "DELIVERED" and message.expires_at is not None and now + timedelta(seconds=delay_s) > message.expires_at:
        # Its validity ends before the handset would get it: the network drops it and says so then, as RBM and SMSCs do.
        final, code = "EXPIRED", EXPIRED_CODE
        delay_s = max(0.0, (message.expires_at - now).total_seconds())
    message.outcome = (final, now + timedelta(seconds=delay_s))
    steps: list[tuple[float, str, str, str | None]] = []  # (seconds after acceptance, type, status, error code)
    if faults.sent_events and message.provider == "aggregator":
        steps.append((delay_s / 2, "delivery", "SENT", None))
    steps.append((delay_s, "delivery", final, code))
    if final == "DELIVERED" and message.provider == "rbm" and rng.random() < faults.read_rate:
        steps.append((delay_s + faults.read_delay_ms / 1000, "read", "READ", None))
    posting = [at for at, *_ in steps]
    if faults.reorder:
        # Out of order twice over: a message's own events go last-first, and messages overtake each other.
        jitter = rng.uniform(0, max(delay_s, 0.05))
        posting = [at + jitter for at in reversed(posting)]
    planned = []
    for post_at, (at, kind, status, code) in zip(posting, steps):
        body = event(kind, message.provider, now + timedelta(seconds=at), message_id=message.id, client_ref=message.client_ref,
                     status=status, error_code=code)
        planned.append(Planned(post_at, body))
        if rng.random() < faults.duplicate_rate:
            planned.append(Planned(post_at + rng.uniform(0, 0.05), body))  # the same event again, as at-least-once providers do
    return planned
