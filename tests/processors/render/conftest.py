"""Builders for render-stage inputs and a check that outputs match their Avro schema."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas
from topology.topics import topic

RECIPIENTS = {
    "FR": {"e164": "+33612345678", "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
    "US": {"e164": "+12015550123", "region": "US", "number_type": "fixed_line_or_mobile", "time_zone": "America/New_York"},
    "SE": {"e164": "+46701234567", "region": "SE", "number_type": "mobile", "time_zone": "Europe/Stockholm"},
}
SENDERS = {
    "SMS": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
    "MMS": {"sender_id": "+12025550102", "type": "LONG_CODE", "country": "US", "segments_per_second": 1.0},
    "RCS": {"sender_id": "courrier-agent-fr", "type": "RCS_AGENT", "country": "FR", "segments_per_second": 50.0},
}


@pytest.fixture
def assert_valid() -> Callable[[Any], None]:
    """Validate an output's value against its topic's schema, raising with the offending field."""
    def check(output: Any) -> None:
        validate(output.value, schemas.parsed_schema(topic(output.topic).value_schema), raise_errors=True)
    return check


@pytest.fixture
def resolved_event() -> Callable[..., dict[str, Any]]:
    """A valid ``channel-resolved`` value; keyword arguments replace fields (``lane`` goes to the context)."""
    def build(template_id: str = "otp", variables: dict[str, str] | None = None, channel: str = "SMS",
              region: str = "FR", lane: str = "TRANSACTIONAL", **overrides: Any) -> dict[str, Any]:
        event = {
            "context": {"message_id": "m-1", "idempotency_key": None, "campaign_id": None, "variant": None, "lane": lane,
                        "subscription_group": "promotions" if lane == "MARKETING" else None,
                        "requested_at": datetime(2026, 3, 2, 9, tzinfo=timezone.utc), "source": "test"},
            "recipient": dict(RECIPIENTS[region]), "template_id": template_id,
            "variables": {"code": "123456"} if variables is None else variables,
            "channel_policy": "RCS_WITH_SMS_FALLBACK" if channel == "RCS" else channel, "channel": channel,
            "fallback_reason": None, "sender": dict(SENDERS[channel]),
            "expires_at": datetime(2026, 3, 2, 9, 10, tzinfo=timezone.utc), "locale": None,
        }
        event.update(overrides)
        validate(event, schemas.parsed_schema("ChannelResolved"), raise_errors=True)
        return event
    return build
