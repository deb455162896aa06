"""Vonage's Messages API webhooks at ``POST /webhooks/<name>``: message status and inbound messages, JSON, signed
(``signature.VonageVerifier``).

**Message status** (``message_uuid``, ``to``, ``from``, ``timestamp``, ``status``, ``channel``, ``client_ref``, and
``error`` {``type``, ``title``, ``detail``, ``instance``} on a rejection, ``usage`` {``price``, ``currency``}, ``sms``
{``count_total``}: Vonage's MessageStatus) → one ``provider-events`` record keyed by ``message_uuid``: ``provider`` the
configured name (the adapter's name too, so receipts name one provider), ``message_id`` the ``client_ref`` (our message
id, which the receipt stage attributes the report by), ``raw_status`` Vonage's word as sent, ``READ_REPORT`` for
``read``, ``error_code`` the error's code (``statuses.error_code``), ``occurred_at`` Vonage's ``timestamp``, ``raw`` the
body. Event id ``message_uuid:status``: a status Vonage posts again (it retries what we did not answer 200) is the same
event, whatever its ``timestamp``.

**Inbound SMS** (``channel`` ``sms``, ``message_type`` ``text``, ``message_uuid``, ``to``, ``from``, ``text``,
``timestamp``) → one ``inbound`` record keyed by the sender's E.164 number (Vonage writes numbers without ``+``; ours
have it), for the keyword stage (STOP, HELP…). Event id ``message_uuid``.

Fields Vonage adds over time are ignored, not refused: its payloads grow (``destination``, ``workflow``…) and a
receiver refusing them would lose reports. A missing field a record needs, a time without a zone, or a body that is
not JSON is a 400 naming what is wrong (never echoing the body).
"""
from __future__ import annotations

import json
import re
from functools import partial
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from processors.providers.vonage.settings import VonageSettings
from processors.providers.vonage.signature import VonageVerifier
from processors.providers.vonage.statuses import error_code
from processors.runtime.stage import Output
from processors.web.webhook_contract import Parsed, Rejected, WebhookProvider

PROVIDER = "vonage"
_NUMBER = re.compile(r"\+?([1-9]\d{6,14})")


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_uuid: str = Field(min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=64)
    from_: str = Field(alias="from", min_length=1, max_length=64)
    timestamp: AwareDatetime
    channel: str = Field(min_length=1, max_length=32)


class MessageStatus(_Common):
    """A status webhook: what happened to a message we sent."""

    status: str = Field(min_length=1, max_length=32)
    client_ref: str | None = Field(None, max_length=100)
    error: dict[str, Any] | None = None


class InboundText(_Common):
    """An inbound text message: a recipient writing to one of our numbers."""

    message_type: Literal["text"]
    text: str = Field(max_length=20_000)


def e164(number: str) -> str | None:
    """A Vonage number (digits, no ``+``) in E.164 form; None when it is not a phone number."""
    match = _NUMBER.fullmatch(number.strip())
    return f"+{match[1]}" if match else None


def sender_id(to: str) -> str:
    """Our sender id as Courrier writes it: a long number with its ``+``; a short code or an alphanumeric id as given."""
    return e164(to) or to.strip()


def parse(body: bytes, provider: str = PROVIDER) -> Parsed:
    """The records a Vonage webhook body becomes, named ``provider``; ``Rejected`` 400 naming what is wrong."""
    data = _json(body)
    if "status" in data:
        status = _validated(MessageStatus, data)
        word = status.status.strip().lower()
        return Parsed(f"{status.message_uuid}:{word}", (Output("provider-events", status.message_uuid, {
            "provider": provider, "provider_message_id": status.message_uuid,
            "kind": "READ_REPORT" if word == "read" else "DELIVERY_REPORT", "raw_status": word,
            "error_code": error_code(status.error), "raw": body.decode("utf-8"), "occurred_at": status.timestamp,
            "dispatched": None, "message_id": status.client_ref or None,
        }),))
    inbound = _validated(InboundText, data)
    sender = e164(inbound.from_)
    if sender is None:
        raise Rejected(400, "invalid_event", "from must be a phone number (7 to 15 digits)")
    return Parsed(inbound.message_uuid, (Output("inbound", sender, {
        "from_e164": sender, "to_sender_id": sender_id(inbound.to), "text": inbound.text, "media_urls": [],
        "provider": provider, "provider_message_id": inbound.message_uuid, "received_at": inbound.timestamp,
    }),))


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise Rejected(400, "malformed_json", f"the body is not UTF-8 JSON{where}") from None
    if not isinstance(data, dict):
        raise Rejected(400, "malformed_json", "the body must be a JSON object")
    return data


def _validated(model: type[_Common], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        what = "message status" if model is MessageStatus else "inbound text message"
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise Rejected(400, "invalid_event", f"not a Vonage {what}: {problems}") from None


def webhook_provider(settings: VonageSettings, name: str = PROVIDER, tolerance_s: float = 300.0) -> WebhookProvider:
    """The receiver's ``/webhooks/{name}`` for one account: its JWT checked within ``tolerance_s`` (the receiver's
    signature tolerance, which its replay memory covers), its bodies named ``name``; ``VonageConfigError`` when the
    signature secret is not set."""
    verifier = VonageVerifier(settings.signature_secret_value().get_secret_value(), tolerance_s)
    return WebhookProvider(name, verifier.verify, partial(parse, provider=name))
