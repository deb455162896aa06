"""RBM's webhook at ``POST /webhooks/<name>``: the verification handshake, then signed Pub/Sub push envelopes.

**Handshake** (guides/integrate/webhooks): when the webhook is configured, RBM posts ``{"clientToken", "secret"}``;
we answer 200 with the secret as the plain-text body when the clientToken is ours (403 otherwise). Nothing is
published, and it bypasses the receiver's replay memory (RBM may post the same secret again).

**Signature**: ``X-Goog-Signature`` = base64(HMAC-SHA512(clientToken, decoded ``message.data``)) (``signature``);
missing → 401, wrong → 403.

**Events** (``message.data``, base64 JSON; UserEvent, ServerEvent, UserMessage in RBM's REST reference), each one
record at most, named by our configured provider name (the receipt stage matches reports by provider and messageId):

- ``DELIVERED`` / ``READ`` (UserEvent) and ``TTL_EXPIRATION_REVOKED`` / ``…_REVOKE_FAILED`` (ServerEvent) → a
  ``provider-events`` record keyed by ``messageId`` (our uuid5, the provider message id), ``raw_status`` the
  eventType (``statuses``), ``READ_REPORT`` for READ. ``IS_TYPING`` → accepted, nothing written: it says nothing
  about a message we sent. An eventType we do not know is kept as it came when it names a message (the receipt stage
  records it UNKNOWN), else accepted with nothing written: a 4xx would make RBM retry it for 7 days.
- a user's ``text`` (UserMessage) → an ``inbound`` record keyed by the user's number, ``to_sender_id`` the agent
  (without ``@rbm.goog``), for the keywords stage; a ``userFile`` → an ``inbound`` record with its file URI as media.
- a ``suggestionResponse`` whose ``postbackData`` we wrote (``content.postback``) → a ``provider-events`` record
  ``CLICKED`` for the message it names, ``raw`` holding the postback data that names the button (the receipt's
  reason becomes ``button:<n>``, ``processors.rules.buttons``); a tapped *reply* is also the user's answer, so it is
  an ``inbound`` record with the reply's text too (a "STOP" button unsubscribes like a typed STOP).

Event id (the replay key): the event's ``eventId`` (UserEvent, ServerEvent), the user message's ``messageId``, else
the Pub/Sub ``messageId``. Times: ``sendTime``, else the envelope's ``publishTime``.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from processors.providers.rbm.content import read_postback
from processors.providers.rbm.signature import SIGNATURE_HEADER, sign
from processors.providers.rbm.statuses import CLICKED, IGNORED_EVENTS, READ
from processors.runtime.stage import Output
from processors.web.webhook_contract import Parsed, Rejected, WebhookProvider

HANDSHAKE = "handshake"
AGENT_DOMAIN = "@rbm.goog"
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def webhook_provider(name: str, client_token: str, agent_id: str) -> WebhookProvider:
    """The receiver's provider ``name`` for an agent whose webhook is signed with ``client_token``."""
    return WebhookProvider(name, RbmVerifier(client_token).verify, RbmParser(name, agent_id).parse)


class RbmVerifier:
    """Checks ``X-Goog-Signature`` (and the handshake's clientToken) against the webhook's clientToken."""

    def __init__(self, client_token: str) -> None:
        self._token = client_token

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The matching signature (``handshake`` for a verification request); ``Rejected`` 401 unsigned, 403 wrong."""
        offered = headers.get(SIGNATURE_HEADER, "").strip()
        if not offered:
            handshake = _handshake(_json(body))
            if handshake is None:
                raise Rejected(401, "unsigned", "X-Goog-Signature is required")
            if not hmac.compare_digest(handshake[0].encode(), self._token.encode()):
                raise Rejected(403, "bad_client_token", "the verification request's clientToken is not this webhook's")
            return HANDSHAKE
        data = _data(_json(body))
        # compare_digest wants ASCII on both sides: anything else cannot be a base64 signature.
        if not offered.isascii() or not hmac.compare_digest(offered, sign(data, self._token)):
            raise Rejected(403, "bad_signature", "X-Goog-Signature does not match message.data and the clientToken")
        return offered


class RbmParser:
    """Reads envelopes posted to provider ``name``; ``agent_id`` stands for the agent when an event does not name it."""

    def __init__(self, name: str, agent_id: str) -> None:
        self._name = name
        self._agent = agent_id

    def parse(self, body: bytes) -> Parsed:
        """The records an RBM webhook body becomes; ``Rejected`` 400 naming what is unreadable (never echoing it)."""
        envelope = _json(body)
        handshake = _handshake(envelope)
        if handshake is not None:
            return Parsed(None, (), reply=handshake[1])
        data = _data(envelope)
        try:
            event = json.loads(data)
        except ValueError:
            raise Rejected(400, "malformed_json", "message.data is not base64 of a JSON object") from None
        if not isinstance(event, dict):
            raise Rejected(400, "malformed_json", "message.data must hold a JSON object")
        message = envelope["message"]
        event_id = _text(event, "eventId") or _text(message, "messageId")
        when = _time(event.get("sendTime")) or _time(message.get("publishTime")) or datetime.now(timezone.utc)
        raw = data.decode("utf-8")
        if "eventType" in event:
            return Parsed(event_id, self._event(event, when, raw))
        event_id = _text(event, "messageId") or event_id
        return Parsed(event_id, self._user_message(event, when, raw))

    def _event(self, event: dict[str, Any], when: datetime, raw: str) -> tuple[Output, ...]:
        kind, about = str(event["eventType"]), _text(event, "messageId")
        if kind in IGNORED_EVENTS or about is None:
            return ()
        return (self._report(about, kind, when, raw),)

    def _user_message(self, event: dict[str, Any], when: datetime, raw: str) -> tuple[Output, ...]:
        sender = _text(event, "senderPhoneNumber") or ""
        if not _E164.fullmatch(sender):
            raise Rejected(400, "invalid_event", "a user message needs senderPhoneNumber in E.164")
        agent = (_text(event, "agentId") or self._agent).removesuffix(AGENT_DOMAIN)
        user_message_id = _text(event, "messageId")
        if isinstance(event.get("text"), str):
            return (self._inbound(sender, agent, event["text"], [], user_message_id, when),)
        response = event.get("suggestionResponse")
        if isinstance(response, dict):
            outputs = []
            tapped = read_postback(str(response.get("postbackData", "")))
            if tapped is not None:
                outputs.append(self._report(tapped[0], CLICKED, when, raw))
            if response.get("type") == "REPLY" and isinstance(response.get("text"), str):
                outputs.append(self._inbound(sender, agent, response["text"], [], user_message_id, when))
            return tuple(outputs)
        file_uri = (event.get("userFile") or {}).get("payload", {}).get("fileUri") if isinstance(event.get("userFile"), dict) else None
        if isinstance(file_uri, str):
            return (self._inbound(sender, agent, "", [file_uri], user_message_id, when),)
        return ()  # a shared location, or content we do not read: accepted, nothing written

    def _report(self, rbm_message_id: str, status: str, when: datetime, raw: str) -> Output:
        return Output("provider-events", rbm_message_id, {
            "provider": self._name, "provider_message_id": rbm_message_id, "kind": "READ_REPORT" if status == READ else "DELIVERY_REPORT",
            "raw_status": status, "error_code": None, "raw": raw, "occurred_at": when, "dispatched": None, "message_id": None,
        })

    def _inbound(self, sender: str, agent: str, text: str, media: list[str], user_message_id: str | None, when: datetime) -> Output:
        return Output("inbound", sender, {
            "from_e164": sender, "to_sender_id": agent, "text": text, "media_urls": media, "provider": self._name,
            "provider_message_id": user_message_id, "received_at": when,
        })


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise Rejected(400, "malformed_json", "the body is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, "malformed_json", "the body must be a JSON object")
    return value


def _handshake(body: dict[str, Any]) -> tuple[str, str] | None:
    """(clientToken, secret) of a verification request, None for anything else."""
    token, secret = body.get("clientToken"), body.get("secret")
    if "message" in body or not isinstance(token, str) or not isinstance(secret, str):
        return None
    return token, secret


def _data(envelope: dict[str, Any]) -> bytes:
    """The decoded ``message.data`` of a push envelope; ``Rejected`` 400 when there is none."""
    message = envelope.get("message")
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str):
        raise Rejected(400, "invalid_event", "a Pub/Sub push envelope with message.data is required")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(400, "invalid_event", "message.data is not base64") from None


def _text(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    """An RFC 3339 time as RBM writes them (up to nine fractional digits, ``Z``), None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
