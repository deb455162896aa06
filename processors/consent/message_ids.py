"""Message ids at the consent stage: never empty, and one id names one message.

Every later stage keys its state by message id (dispatch's ``submissions`` ledger, the receipt
stage's message state), so two different messages sharing an id would merge there: the second is
taken for the first and vanishes without a receipt. Consent is the first stage every request goes
through, however it was published (HTTP intake, ``CourrierClient``, campaigns, keyword replies,
any Kafka producer), so it is where an id is checked:

- an empty or blank id ends in a terminal ``REJECTED`` receipt, reason ``invalid_message_id``;
- the first request with an id claims it in the compacted ``idempotency`` topic, under the key
  ``courrier:message-id:<id>``, with a fingerprint of its content (recipient as given, region,
  template, variables, channel policy, locale) in the record's ``message_id`` field;
- a later request with the same id and another fingerprint ends in a terminal ``REJECTED``
  receipt, reason ``duplicate_message_id``; the same request seen again (re-read after a crash, a
  deferral released by the scheduler, a re-keyed marketing message, a producer's retry, an
  operator's replay) has the same fingerprint and passes.

The claims share the idempotency keys' table, window and limits (see ``idempotency``): a collision
is caught within the window (24 h by default), and two requests whose recipients are written so
differently that they land on two consent instances can both pass if they arrive within the
table's propagation delay. Idempotency keys starting with ``courrier:`` are reserved for these
claims and for scoped keys: the intake refuses them and consent rejects them (``invalid_idempotency_key``),
so no caller can claim another message's id, or another API key's idempotency key, in advance.

Idempotency keys are scoped per API key (``scoped_key``): a request sent with an API key stores its key
as ``courrier:key:<api_key_id>:<key>``, so the same key sent with two API keys names two messages, and
compaction keeps one record per (API key, key). A request without an API key (access control off, or a
producer writing to Kafka directly) keeps its key as given, as before.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from processors.receipts import receipt
from processors.rules.idempotency import RESERVED_KEY_PREFIX
from processors.runtime.stage import Event, Output

if TYPE_CHECKING:  # only a type here: the client imports this module for its reserved prefix, without the intake's imports
    from processors.consent.idempotency import KeyClaims

STAGE = "consent"
CLAIM_KEY_PREFIX = f"{RESERVED_KEY_PREFIX}message-id:"
FINGERPRINT_PREFIX = "content:"


@dataclass(frozen=True)
class IdCheck:
    """The outcome of checking a request's message id: a terminal receipt refusing it, or the claim to publish (if new)."""

    refusal: Output | None = None
    claim: Output | None = None


def claim_key(message_id: str) -> str:
    """The ``idempotency`` key under which a message id is claimed."""
    return f"{CLAIM_KEY_PREFIX}{message_id}"


def fingerprint(event: Event) -> str:
    """What makes a request this message and not another: a hash of its recipient as given, region, template, variables,
    channel policy and locale. Not ``requested_at`` nor the lane: a producer retrying the same message may restamp those."""
    content = [event["recipient"], event.get("default_region"), event["template_id"], sorted((event.get("variables") or {}).items()),
               event["channel_policy"], event.get("locale")]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    return FINGERPRINT_PREFIX + digest[:32]


def check_message_id(event: Event, claims: KeyClaims, now: datetime) -> IdCheck:
    """Refuse a blank id or an id another message already claimed; else claim it (no record when already this message's)."""
    context = event["context"]
    message_id = context["message_id"]
    content = fingerprint(event)
    # Both refusals share their message id with other receipts, so the content goes into their receipt_id (as the
    # ``event_id``): two different requests get two receipt ids, the same request processed again gets the same one.
    if not message_id.strip():
        return IdCheck(refusal=receipt(
            context, event["recipient"], "REJECTED", STAGE, now, reason="invalid_message_id", event_id=content,
            detail=f"the message id is {'empty' if not message_id else 'blank'}; every message needs an id of its own "
                   "(receipts of such requests all carry this same blank id: tell them apart by recipient and requested_at)"))
    key = claim_key(message_id)
    first = claims.live(key, now)
    if first is not None and first["message_id"] != content:
        return IdCheck(refusal=receipt(
            context, event["recipient"], "REJECTED", STAGE, now, reason="duplicate_message_id", event_id=content,
            detail=f"message id {message_id} already names another message (other recipient, template or variables), first seen "
                   f"at {first['first_seen_at'].isoformat()}; this one is not sent. Both messages' receipts carry this id"))
    return IdCheck(claim=claims.claim(key, content, now))


def reserved_key(event: Event, now: datetime) -> Output | None:
    """A terminal ``REJECTED`` receipt when the request's idempotency key is in the namespace reserved for message-id claims."""
    key = event["context"].get("idempotency_key")
    if not key or not key.startswith(RESERVED_KEY_PREFIX):
        return None
    return receipt(event["context"], event["recipient"], "REJECTED", STAGE, now, reason="invalid_idempotency_key",
                   detail=f"idempotency keys starting with {RESERVED_KEY_PREFIX!r} are reserved for Courrier's own claims")
