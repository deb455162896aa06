"""RBM's webhook signing and its push envelope, shared by our receiver, our fake and the simulator.

Documented behaviour (developers.google.com/business-communications/rcs-business-messaging/guides/integrate/webhooks):
RBM posts a Pub/Sub push envelope ``{"message": {"data": <base64 event JSON>, "messageId", "publishTime"},
"subscription": …}`` and signs it with ``X-Goog-Signature: base64(HMAC-SHA512(clientToken, <decoded message.data>))``.
The documented verifier decodes ``message.data`` and hashes those bytes, not the HTTP body: ``sign`` therefore takes
the event bytes that ``message.data`` carries, and ``signed_request`` builds a matching (headers, body) pair in one call.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "x-goog-signature"
# What a push subscription is called in the envelope; RBM's real value names Google's project, which we never check.
SUBSCRIPTION = "projects/rbm-courrier/subscriptions/rbm-events"


def sign(body: bytes, client_token: str) -> str:
    """The ``X-Goog-Signature`` value of ``body``: base64 of HMAC-SHA512 keyed by the webhook's clientToken.

    ``body`` is the decoded ``message.data`` (the event JSON bytes), which is what RBM signs.
    """
    return base64.b64encode(hmac.new(client_token.encode(), body, hashlib.sha512).digest()).decode("ascii")


def event_bytes(event: dict[str, Any]) -> bytes:
    """The JSON bytes an envelope carries for ``event`` (compact, key order kept), the bytes ``sign`` expects."""
    return json.dumps(event, separators=(",", ":")).encode()


def envelope(event: dict[str, Any], message_id: str, publish_time: datetime) -> bytes:
    """The HTTP body RBM posts for ``event``: the push envelope with the event as base64 ``message.data``.

    ``message_id`` is the Pub/Sub message id (a redelivery keeps it); ``publish_time`` is written as RFC 3339 UTC.
    """
    stamp = publish_time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    wrapped = {
        "message": {
            "data": base64.b64encode(event_bytes(event)).decode("ascii"),
            "messageId": message_id,
            "publishTime": stamp,
        },
        "subscription": SUBSCRIPTION,
    }
    return json.dumps(wrapped, separators=(",", ":")).encode()


def signed_request(event: dict[str, Any], message_id: str, publish_time: datetime, client_token: str) -> tuple[dict[str, str], bytes]:
    """(lower-cased headers, body) of ``event`` posted as RBM would: the envelope and its ``X-Goog-Signature``."""
    headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(event_bytes(event), client_token)}
    return headers, envelope(event, message_id, publish_time)
