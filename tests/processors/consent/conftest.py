"""Builders for consent-stage inputs and a check that outputs match their Avro schema."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas
from processors.consent.message_ids import CLAIM_KEY_PREFIX
from processors.consent.stage import ConsentStage
from processors.runtime.stage import Event, Output, RecordMeta

REQUESTED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def request_event() -> Callable[..., dict[str, Any]]:
    """A valid ``send-requested`` value; keyword arguments replace fields (``lane``/``subscription_group`` go to the context)."""
    def build(**overrides: Any) -> dict[str, Any]:
        context = {"message_id": "m-1", "idempotency_key": None, "campaign_id": None, "variant": None,
                   "lane": overrides.pop("lane", "TRANSACTIONAL"), "subscription_group": overrides.pop("subscription_group", None),
                   "requested_at": REQUESTED_AT, "source": "test"}
        event = {"context": context, "recipient": "+33612345678", "default_region": None, "template_id": "otp",
                 "variables": {"code": "123456"}, "channel_policy": "SMS", "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None}
        event.update(overrides)
        validate(event, schemas.parsed_schema("SendRequested"), raise_errors=True)
        return event
    return build


class RulesOnly:
    """A consent stage whose outputs leave out its message-id claims: for the tests of the rules that come after them
    (``test_consent_message_ids`` tests the claims themselves)."""

    def __init__(self, stage: ConsentStage) -> None:
        self.stage = stage
        self.name, self.inputs = stage.name, stage.inputs

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        return [o for o in self.stage.process(event, meta) if not (o.topic == "idempotency" and o.key.startswith(CLAIM_KEY_PREFIX))]


def consent_stage(*args: Any, **kwargs: Any) -> RulesOnly:
    """``ConsentStage(*args, **kwargs)`` seen through ``RulesOnly``."""
    return RulesOnly(ConsentStage(*args, **kwargs))
