"""The provider simulator's webhook body (RBM- and aggregator-shaped), read strictly, turned into Courrier's records.

    {"event_id", "type": "delivery"|"read"|"inbound", "provider": "rbm"|"aggregator", "message_id", "client_ref",
     "status", "error_code", "from", "to", "text", "occurred_at"}

A delivery or read event becomes a ``provider-events`` record keyed by the provider's message id, with
``message_id`` = the ``client_ref`` (Courrier's message id, which the receipt stage attributes it by),
``raw_status`` = the provider's status (``READ`` for a read event without one) and ``raw`` = the body as received.
An inbound event becomes an ``inbound`` record keyed by the sender's E.164 number. Unknown fields, a missing field
an event type needs, or a time without a zone are refused (400): a provider sending them has changed its format.
Statuses are not judged here: an unknown one is kept, and the receipt stage records it as UNKNOWN with the word kept,
never lost at the door.
"""
from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from processors.runtime.stage import Output
from processors.web.webhook_contract import Parsed, Rejected

_E164 = re.compile(r"\+[1-9]\d{6,14}")
# The name dispatch's HTTP client gives this provider, so a message's receipts all name the same provider.
PROVIDER = "http:sim"
Id = Field(None, min_length=1, max_length=128)


class SimEvent(BaseModel):
    """One webhook event of the simulator's contract."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128)
    type: Literal["delivery", "read", "inbound"]
    provider: Literal["rbm", "aggregator"]
    message_id: str | None = Id
    client_ref: str | None = Id
    status: str | None = Field(None, min_length=1, max_length=32)
    error_code: str | None = Field(None, max_length=64)
    from_: str | None = Field(None, alias="from", max_length=32)
    to: str | None = Field(None, max_length=64)
    text: str | None = Field(None, max_length=20_000)
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _complete_for_its_type(self) -> "SimEvent":
        if self.type == "inbound":
            missing = [name for name, value in (("from", self.from_), ("to", self.to), ("text", self.text)) if value is None]
            if missing:
                raise ValueError(f"an inbound event needs {', '.join(missing)}")
            if not _E164.fullmatch(self.from_ or ""):
                raise ValueError("from must be an E.164 number (+ and 7 to 15 digits)")
        else:
            if self.message_id is None and self.client_ref is None:
                raise ValueError(f"a {self.type} event needs message_id or client_ref")
            if self.type == "delivery" and self.status is None:
                raise ValueError("a delivery event needs a status")
        return self


def parse(body: bytes, provider: str = PROVIDER) -> Parsed:
    """The records a simulator webhook body becomes (``provider``: the name dispatch gave the adapter); ``Rejected`` 400 naming what is wrong (never echoing the body)."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise Rejected(400, "malformed_json", f"the body is not UTF-8 JSON{where}") from None
    if not isinstance(data, dict):
        raise Rejected(400, "malformed_json", "the body must be a JSON object")
    try:
        event = SimEvent.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        unknown = sorted(str(e["loc"][0])[:40] for e in errors if e["type"] == "extra_forbidden")
        if unknown:
            raise Rejected(400, "unknown_field", f"fields not in the contract: {', '.join(unknown[:5])}") from None
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors)
        raise Rejected(400, "invalid_event", problems) from None
    return Parsed(event.event_id, (_record(event, body, provider),))


def _record(event: SimEvent, body: bytes, provider: str) -> Output:
    if event.type == "inbound":
        assert event.from_ is not None and event.to is not None and event.text is not None
        return Output("inbound", event.from_, {
            "from_e164": event.from_, "to_sender_id": event.to, "text": event.text, "media_urls": [], "provider": provider,
            "provider_message_id": event.message_id, "received_at": event.occurred_at,
        })
    provider_id = event.message_id or event.client_ref
    assert provider_id is not None
    return Output("provider-events", provider_id, {
        "provider": provider, "provider_message_id": provider_id,
        "kind": "READ_REPORT" if event.type == "read" else "DELIVERY_REPORT",
        "raw_status": event.status or "READ", "error_code": event.error_code, "raw": body.decode("utf-8"),
        "occurred_at": event.occurred_at, "dispatched": None, "message_id": event.client_ref,
    })
