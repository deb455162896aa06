"""Twilio Programmable Messaging as the simulator plays it, and what Twilio posts back.

References: twilio.com/docs/messaging/api/message-resource (create, list, fetch; the Message resource's fields),
/docs/usage/webhooks/webhooks-security (``X-Twilio-Signature``), /docs/messaging/guides/track-outbound-message-status
(status callbacks), /docs/api/errors (the codes below).

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form), Basic auth AccountSid:AuthToken (else 401, code
  20003): ``To`` E.164 (else 21211), ``From`` or ``MessagingServiceSid`` (21603; a malformed service SID 21701),
  ``Body`` or ``MediaUrl`` (21602), ``Body`` ≤ 1600 characters (21617), ``MediaUrl`` http(s), at most 10 (21620),
  ``StatusCallback`` an http(s) URL (21609), ``ValidityPeriod`` 1..36000 (90007) → 201 with the Message resource
  (``sid`` SM…/MM…, ``status`` queued, or accepted through a Messaging Service). A recipient who replied STOP to that
  sender → 400 21610.
- ``GET …/Messages.json?To=&From=&PageSize=&Page=``: the account's messages, newest first, with ``next_page_uri``.
- ``GET …/Messages/{MessageSid}.json``: one message.
- errors ``{"code", "message", "more_info", "status"}``.

Status callbacks go to each message's ``StatusCallback`` (none without it), form-encoded, signed ``X-Twilio-Signature``
(``processors.providers.twilio.webhook.sign``): ``sent``, then ``delivered``, or ``undelivered`` (ErrorCode 30003),
or ``failed`` with ErrorCode 30036 when its ValidityPeriod ran out in Twilio's queue (never sent). Inbound messages go
to ``Faults.twilio_inbound_url``; a STOP (STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) blocks later sends to its sender's
number from the number it was sent to, until START (UNSTOP, YES), as Twilio's default opt-out handling does.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from processors.providers.twilio.webhook import SIGNATURE_HEADER, sign
from processors.render.segments import count as count_segments
from sim.events import Planned
from sim.reply import Reply
from sim.simulator import Post, Refusal, Simulator
from sim.store import SimMessage

PROVIDER = "twilio"
API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9]\d{6,14}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
MAX_BODY = 1600
MAX_MEDIA = 10
MAX_VALIDITY_S = 36_000
MAX_PAGE_SIZE = 1000
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
FORM = {"content-type": "application/x-www-form-urlencoded"}
# A final step's MessageStatus and ErrorCode.
CALLBACK = {"SENT": ("sent", None), "DELIVERED": ("delivered", None), "UNDELIVERED": ("undelivered", "30003"),
            "EXPIRED": ("failed", "30036")}


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error in Twilio's shape."""
    return Reply(status, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                          "status": status}, headers or {})


UNAUTHENTICATED = error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})


class TwilioApi:
    """Twilio's Messages resource and its webhooks over the shared simulator state, for the simulator's one account."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.account = sim.credentials.twilio_account_sid

    def refused_auth(self, authorization: str, account: str) -> Reply | None:
        """None when ``Authorization`` is Basic AccountSid:AuthToken of the account in the path; else the answer."""
        scheme, _, encoded = authorization.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return UNAUTHENTICATED
        good = hmac.compare_digest(user.encode(), self.account.encode()) & hmac.compare_digest(
            password.encode(), self.sim.credentials.twilio_auth_token.encode())
        if scheme.lower() != "basic" or not good:
            return UNAUTHENTICATED
        if account != self.account:
            return error(404, 20404, f"The requested resource /{API_VERSION}/Accounts/{account}/Messages.json was not found")
        return None

    def create(self, form: Sequence[tuple[str, str]]) -> Reply:
        if self.sim.down():
            return error(503, 20503, "Service Unavailable (simulated)")
        fields = dict(form)
        media = [value for name, value in form if name == "MediaUrl"]
        if isinstance(problem := _problem(fields, media), Reply):
            return problem
        draw = self.sim.draw(PROVIDER)
        if draw.refusal is not None:
            return refusal_reply(draw.refusal)
        to, from_, service = fields["To"], fields.get("From") or None, fields.get("MessagingServiceSid") or None
        if (to, from_) in self.sim.unsubscribed or (from_ is None and any(r == to for r, _ in self.sim.unsubscribed)):
            self.sim.refused["unsubscribed"] += 1
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(timezone.utc)
        body = fields.get("Body", "")
        validity = fields.get("ValidityPeriod")
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        message, _created = self.sim.store.submit(
            PROVIDER, sid, "mms" if media else "sms", to, None if service else from_, count_segments(body).segments if body else 1,
            now, media, now + timedelta(seconds=int(validity)) if validity else None, text=body,
            status_callback=fields.get("StatusCallback") or None, messaging_service_sid=service)
        self.sim.accept(message, now, self.render)
        return self.sim.answer(Reply(201, self.resource(message, now, created=True)), draw)

    def list(self, path: str, query: Mapping[str, str]) -> Reply:
        """A page of the account's messages, newest first, filtered by ``To``/``From``."""
        if self.sim.down():
            return error(503, 20503, "Service Unavailable (simulated)")
        try:
            size, page = int(query.get("PageSize", "50")), int(query.get("Page", "0"))
        except ValueError:
            return error(400, 20001, "PageSize and Page must be integers")
        if not 1 <= size <= MAX_PAGE_SIZE or page < 0:
            return error(400, 20001, f"PageSize must be 1..{MAX_PAGE_SIZE} and Page at least 0")
        to, from_, wanted = query.get("To"), query.get("From"), page * size
        matches: list[SimMessage] = []
        for message in self.sim.store.newest(PROVIDER):
            if (to is None or message.to == to) and (from_ is None or message.sender == from_):
                matches.append(message)
                if len(matches) > wanted + size:
                    break  # one more than this page needs: there is a next page
        now = datetime.now(timezone.utc)
        shown = [self.resource(message, now) for message in matches[wanted:wanted + size]]
        more = len(matches) > wanted + size
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        next_uri = f"{path}?{urlencode({**base, 'PageSize': str(size), 'Page': str(page + 1), 'PageToken': f'PA{page + 1}'})}"
        first_uri = f"{path}?{urlencode({**base, 'PageSize': str(size), 'Page': '0'})}"
        return Reply(200, {"messages": shown, "page": page, "page_size": size, "start": wanted, "end": wanted + max(len(shown) - 1, 0),
                           "uri": f"{path}?{urlencode(dict(query))}", "first_page_uri": first_uri,
                           "next_page_uri": next_uri if more else None, "previous_page_uri": None})

    def fetch(self, sid: str) -> Reply:
        if self.sim.down():
            return error(503, 20503, "Service Unavailable (simulated)")
        message = self.sim.store.find(PROVIDER, sid)
        if message is None:
            return error(404, 20404, f"The requested resource /{API_VERSION}/Accounts/{self.account}/Messages/{sid}.json was not found")
        return Reply(200, self.resource(message, datetime.now(timezone.utc)))

    def resource(self, message: SimMessage, now: datetime, created: bool = False) -> dict[str, Any]:
        """The Message resource as Twilio shows it now, or as the create request's answer shows it (``created``: still
        in Twilio's queue); dates RFC 2822, as Twilio writes them."""
        status, code = _status(message, now, created)
        made = format_datetime(message.submitted_at)
        uri = f"/{API_VERSION}/Accounts/{self.account}/Messages/{message.id}"
        return {"account_sid": self.account, "api_version": API_VERSION, "body": message.text, "date_created": made,
                "date_sent": made if status in ("sent", "delivered", "undelivered") else None, "date_updated": format_datetime(now),
                "direction": "outbound-api", "error_code": int(code) if code else None, "error_message": None,
                "from": message.sender, "messaging_service_sid": message.messaging_service_sid,
                "num_media": str(len(message.media_urls)), "num_segments": str(message.segments), "price": None, "price_unit": "USD",
                "sid": message.id, "status": status, "subresource_uris": {"media": f"{uri}/Media.json"}, "to": message.to,
                "uri": f"{uri}.json"}

    def render(self, message: SimMessage, planned: Planned, _now: datetime) -> Post | None:
        """A step as Twilio's signed status callback to the message's ``StatusCallback`` (none for READ: SMS has none)."""
        if message.status_callback is None or planned.step.status not in CALLBACK:
            return None
        status, code = CALLBACK[planned.step.status]
        params = [("AccountSid", self.account), ("ApiVersion", API_VERSION), ("From", message.sender or ""),
                  ("MessageSid", message.id), ("MessageStatus", status), ("SmsSid", message.id), ("SmsStatus", status),
                  ("To", message.to)]
        if message.messaging_service_sid:
            params.append(("MessagingServiceSid", message.messaging_service_sid))
        if code is not None:
            params.append(("ErrorCode", code))
        return self._signed(message.status_callback, params)

    def inbound(self, sender: str, to: str, text: str, media: Sequence[str]) -> Reply:
        """A message from ``sender`` to our number ``to``, posted now to ``twilio_inbound_url``; 202 with its SID. A STOP
        or START word changes whether ``to`` may send to ``sender`` again."""
        url = self.sim.faults.twilio_inbound_url
        if url is None:
            return error(409, 21609, "Twilio inbound webhooks are off (twilio_inbound_url is null)")
        word = text.strip().upper()
        if word in STOP_WORDS:
            self.sim.unsubscribed.add((sender, to))
        elif word in START_WORDS:
            self.sim.unsubscribed.discard((sender, to))
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        params = [("AccountSid", self.account), ("ApiVersion", API_VERSION), ("Body", text), ("From", sender), ("MessageSid", sid),
                  ("NumMedia", str(len(media))), ("NumSegments", str(count_segments(text).segments if text else 1)),
                  ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", to)]
        for index, media_url in enumerate(media):
            params += [(f"MediaContentType{index}", "image/jpeg"), (f"MediaUrl{index}", media_url)]
        self.sim.post(self._signed(url, params))
        return Reply(202, {"event_id": sid})

    def _signed(self, url: str, params: list[tuple[str, str]]) -> Post:
        headers = {**FORM, SIGNATURE_HEADER: sign(self.sim.credentials.twilio_auth_token, url, params)}
        return Post(url, urlencode(params).encode(), headers)


def refusal_reply(refusal: Refusal) -> Reply:
    """A refused create request in Twilio's words."""
    if refusal is Refusal.THROTTLED:
        return error(429, 20429, "Too Many Requests (simulated)", {"Retry-After": "1"})
    if refusal is Refusal.UNAUTHORIZED:
        return UNAUTHENTICATED
    status, code, message = {
        Refusal.PERMANENT: (400, 21612, "The 'To' phone number is not currently reachable using the 'From' phone number via SMS "
                                        "(simulated)"),
        Refusal.TRANSIENT: (503, 20503, "Service Unavailable (simulated)"),
        Refusal.FORBIDDEN: (403, 20403, "Forbidden (simulated)"),
    }[refusal]
    return error(status, code, message)


def _problem(fields: Mapping[str, str], media: list[str]) -> Reply | None:
    """The 400 a create request's parameters earn, or None."""
    to = fields.get("To", "")
    if not E164.fullmatch(to):
        return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    service = fields.get("MessagingServiceSid", "")
    if not fields.get("From") and not service:
        return error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
    if service and not SERVICE_SID.fullmatch(service):
        return error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    body = fields.get("Body", "")
    if not body and not media:
        return error(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY:
        return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if len(media) > MAX_MEDIA or not all(_http_url(url) for url in media):
        return error(400, 21620, f"Invalid media URL(s): at most {MAX_MEDIA}, each an http(s) URL.")
    callback = fields.get("StatusCallback")
    if callback is not None and callback and not _http_url(callback):
        return error(400, 21609, "Invalid StatusCallback url")
    validity = fields.get("ValidityPeriod")
    if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= MAX_VALIDITY_S):
        return error(400, 90007, f"Invalid validity period value: whole seconds between 1 and {MAX_VALIDITY_S}")
    return None


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _status(message: SimMessage, now: datetime, created: bool) -> tuple[str, str | None]:
    """The message's MessageStatus now, and its ErrorCode: queued (accepted through a service) when just created, sent
    from half way to its outcome, then the outcome (a message that expires in the queue stays queued until then)."""
    waiting = "accepted" if message.messaging_service_sid else "queued"
    if created:
        return waiting, None
    if message.outcome is None:
        return "sent", None  # silent: it left, and no report ever comes back
    final, at = message.outcome
    if now >= at:
        return CALLBACK[final]
    if final == "EXPIRED" or now < message.submitted_at + (at - message.submitted_at) / 2:
        return waiting, None
    return "sent", None
