"""What happens to an accepted message, as steps in time (``plan``), and the legacy webhook shape of a step.

A plan is format-free: SENT, then the final status (DELIVERED, UNDELIVERED, EXPIRED), then READ, each with the time
it happens and an event id; ``sim.rbm``, ``sim.twilio`` and ``legacy_event`` below turn a step into what that
provider posts. The legacy shape is the simulator's own JSON, signed
``X-Courrier-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>`` with ``X-Courrier-Timestamp: <unix
seconds>``; the timestamp is the time of each post (a retry is signed again).
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
# Legacy error codes of the simulated failures: an aggregator's "unreachable handset" and RBM's TTL expiry.
UNDELIVERED_CODE = "30003"
EXPIRED_CODE = "TTL_EXPIRED"
FINAL_STATUSES = ("DELIVERED", "UNDELIVERED", "EXPIRED")


@dataclass(frozen=True)
class Step:
    """One status a message reaches (SENT, DELIVERED, UNDELIVERED, EXPIRED or READ), when, and its event id."""

    event_id: str
    status: str
    occurred_at: datetime


@dataclass(frozen=True)
class Planned:
    """A step to post ``delay_s`` after the message was accepted (a duplicate repeats the same step)."""

    delay_s: float
    step: Step


def plan(message: SimMessage, faults: Faults, rng: random.Random, now: datetime) -> list[Planned]:
    """The steps ``message`` will report, with their posting delays: its final status (with SENT before it on SMS,
    READ after it on RCS) as drawn, reversed when ``reorder`` is on, each duplicated with ``duplicate_rate``. Records
    the drawn outcome on the message. A message drawn DELIVERED whose validity (``expires_at``) ends before its
    delivery is EXPIRED at that end instead.

    SENT: Twilio always reports it (except for a message that expires in its queue, never sent); the legacy aggregator
    only with ``sent_events``; RBM never (it has no such event)."""
    draw = rng.random()
    if draw < faults.silent_rate:
        return []
    delay_s = faults.delivery_delay_ms / 1000
    if draw < faults.silent_rate + faults.undelivered_rate:
        final = "UNDELIVERED"
    elif draw < faults.silent_rate + faults.undelivered_rate + faults.expired_rate:
        final = "EXPIRED"
    else:
        final = "DELIVERED"
    if final == "DELIVERED" and message.expires_at is not None and now + timedelta(seconds=delay_s) > message.expires_at:
        # Its validity ends before the handset would get it: the network drops it and says so then, as RBM and SMSCs do.
        final = "EXPIRED"
        delay_s = max(0.0, (message.expires_at - now).total_seconds())
    message.outcome = (final, now + timedelta(seconds=delay_s))
    steps: list[tuple[float, str]] = []  # (seconds after acceptance, status)
    if (message.provider == "twilio" and final != "EXPIRED") or (faults.sent_events and message.provider == "aggregator"):
        steps.append((delay_s / 2, "SENT"))
    steps.append((delay_s, final))
    if final == "DELIVERED" and message.provider == "rbm" and rng.random() < faults.read_rate:
        steps.append((delay_s + faults.read_delay_ms / 1000, "READ"))
    posting = [at for at, _ in steps]
    if faults.reorder:
        # Out of order twice over: a message's own events go last-first, and messages overtake each other.
        jitter = rng.uniform(0, max(delay_s, 0.05))
        posting = [at + jitter for at in reversed(posting)]
    planned = []
    for post_at, (at, status) in zip(posting, steps):
        step = Step(str(uuid.UUID(int=rng.getrandbits(128), version=4)), status, now + timedelta(seconds=at))
        planned.append(Planned(post_at, step))
        if rng.random() < faults.duplicate_rate:
            planned.append(Planned(post_at + rng.uniform(0, 0.05), step))  # the same event again, as at-least-once providers do
    return planned


# The legacy shape -----------------------------------------------------------------------------------------------------

def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Courrier-Signature`` value of ``body`` posted at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def encode(event: dict[str, object]) -> bytes:
    """The raw body of an event (compact JSON, UTF-8)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def event(kind: str, provider: str, occurred_at: datetime, *, event_id: str | None = None, message_id: str | None = None,
          client_ref: str | None = None, status: str | None = None, error_code: str | None = None, sender: str | None = None,
          recipient: str | None = None, text: str | None = None) -> dict[str, object]:
    """One legacy webhook event (``from`` is a phone's E.164, ``to`` one of our senders)."""
    return {"event_id": event_id or str(uuid.uuid4()), "type": kind, "provider": provider, "message_id": message_id,
            "client_ref": client_ref, "status": status, "error_code": error_code, "from": sender, "to": recipient, "text": text,
            "occurred_at": occurred_at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def legacy_event(message: SimMessage, step: Step) -> dict[str, object]:
    """``step`` of ``message`` as a legacy delivery or read event."""
    code = {"UNDELIVERED": UNDELIVERED_CODE, "EXPIRED": EXPIRED_CODE}.get(step.status)
    return event("read" if step.status == "READ" else "delivery", message.provider, step.occurred_at, event_id=step.event_id,
                 message_id=message.id, client_ref=message.client_ref, status=step.status, error_code=code)
