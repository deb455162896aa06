"""Twilio's webhooks at ``POST /webhooks/twilio``: status callbacks and inbound messages, form-encoded, signed.

**Signature.** ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + every POST parameter sorted by name, each
name then value)), the URL exactly as Twilio was given it (scheme, host, port, path and query). The receiver cannot
see the URL a request was sent to behind a proxy, so it checks against the configured public URLs
(``COURRIER_TWILIO_WEBHOOK_URL``, ``COURRIER_TWILIO_STATUS_CALLBACK_URL``). Missing or wrong → 403. Twilio signs no
timestamp: a replay is refused by the receiver's replay memory (the event id, below) for as long as it remembers,
and beyond that a replayed report is a no-op at the receipt stage (a status never moves a message backwards).

**Status callback** (``MessageSid``, ``MessageStatus``, ``ErrorCode`` on failure) → one ``provider-events`` record
keyed by ``MessageSid``: provider ``twilio`` (the name dispatch's adapter gives, so the receipt stage attributes it by
provider message id), ``raw_status`` Twilio's word as sent, ``READ_REPORT`` for ``read``, ``raw`` the body.
Event id ``MessageSid:MessageStatus``.

**Inbound message** (no ``MessageStatus``, or ``received``): ``From``, ``To``, ``Body``, ``MediaUrl0…`` → one
``inbound`` record keyed by the sender's E.164 number. Event id ``MessageSid``.

Twilio's callbacks carry no event time: ``occurred_at``/``received_at`` are when the receiver read them.
"""
from __future__ import annotations

from functools import partial

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from processors.providers.twilio.settings import TwilioSettings
from processors.providers.twilio.statuses import INBOUND_STATUSES
from processors.runtime.stage import Output
from processors.web.webhook_contract import Parsed, Rejected, WebhookProvider

PROVIDER = "twilio"
SIGNATURE_HEADER = "x-twilio-signature"
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_MAX_MEDIA = 10  # Twilio attaches at most 10 media to a message


def sign(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The ``X-Twilio-Signature`` of a POST of ``params`` to ``url`` (repeated names sorted by value too)."""
    payload = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def form(body: bytes) -> list[tuple[str, str]]:
    """A form-encoded body's parameters, blanks kept (they are signed too); ``Rejected`` 400 when it is not UTF-8 form."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "malformed_form", "the body is not UTF-8 application/x-www-form-urlencoded") from None


class TwilioVerifier:
    """Checks ``X-Twilio-Signature`` against the account's auth token and the receiver's public URLs."""

    def __init__(self, auth_token: str, urls: tuple[str, ...]) -> None:
        self._token = auth_token
        self._urls = urls

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The matching signature; ``Rejected`` 403 when missing or signed with another token, URL or body."""
        offered = headers.get(SIGNATURE_HEADER, "").strip()
        if not offered:
            raise Rejected(403, "unsigned", "X-Twilio-Signature is required")
        params = form(body)
        # Every configured URL is compared in constant time; compare_digest wants ASCII, so others cannot match.
        if not offered.isascii() or not any(hmac.compare_digest(offered, sign(self._token, url, params)) for url in self._urls):
            raise Rejected(403, "bad_signature", "X-Twilio-Signature does not match this body, the auth token and the webhook URL")
        return offered


def parse(body: bytes, provider: str = PROVIDER) -> Parsed:
    """The record a Twilio webhook body becomes (``provider``: the name dispatch gave the adapter); ``Rejected`` 400 naming what is missing (never echoing the body)."""
    params = dict(form(body))
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not _SID.fullmatch(sid):
        raise Rejected(400, "invalid_event", "MessageSid must be a Twilio message SID (two letters and 32 hex digits)")
    now = datetime.now(timezone.utc)
    status = params.get("MessageStatus", "").strip().lower()
    if status and status not in INBOUND_STATUSES:
        error_code = params.get("ErrorCode", "").strip() or None
        return Parsed(f"{sid}:{status}", (Output("provider-events", sid, {
            "provider": provider, "provider_message_id": sid, "kind": "READ_REPORT" if status == "read" else "DELIVERY_REPORT",
            "raw_status": status, "error_code": error_code, "raw": body.decode("utf-8"), "occurred_at": now,
            "dispatched": None, "message_id": None,
        }),))
    sender, to = params.get("From", ""), params.get("To", "")
    if not _E164.fullmatch(sender) or not to or "Body" not in params:
        raise Rejected(400, "invalid_event", "an inbound message needs From (E.164), To and Body; a status callback needs MessageStatus")
    media = [params[f"MediaUrl{i}"] for i in range(_MAX_MEDIA) if params.get(f"MediaUrl{i}")]
    return Parsed(sid, (Output("inbound", sender, {
        "from_e164": sender, "to_sender_id": to, "text": params["Body"], "media_urls": media, "provider": provider,
        "provider_message_id": sid, "received_at": now,
    }),))


def webhook_provider(settings: TwilioSettings, name: str = PROVIDER) -> WebhookProvider:
    """The receiver's ``/webhooks/{name}`` for one account; ``TwilioConfigError`` naming a missing setting."""
    token = settings.credentials().auth_token.get_secret_value()
    return WebhookProvider(name, TwilioVerifier(token, settings.signed_urls()).verify, partial(parse, provider=name))
