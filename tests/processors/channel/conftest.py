"""Builders for channel-stage inputs and a check that outputs match their Avro schema."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas

RECIPIENTS = {
    "FR": {"e164": "+33612345678", "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
    "US": {"e164": "+12015550123", "region": "US", "number_type": "fixed_line_or_mobile", "time_zone": "America/New_York"},
    "CA": {"e164": "+16135550123", "region": "CA", "number_type": "fixed_line_or_mobile", "time_zone": "America/Toronto"},
    "SE": {"e164": "+46701234567", "region": "SE", "number_type": "mobile", "time_zone": "Europe/Stockholm"},
    "JP": {"e164": "+819012345678", "region": "JP", "number_type": "mobile", "time_zone": "Asia/Tokyo"},
}


@pytest.fixture
def checked_event() -> Callable[..., dict[str, Any]]:
    """A valid ``consent-checked`` value for a recipient of ``region``; keyword arguments replace fields."""
    def build(region: str = "FR", **overrides: Any) -> dict[str, Any]:
        event = {
            "context": {"message_id": "m-1", "idempotency_key": None, "campaign_id": "c", "variant": "A", "lane": "MARKETING",
                        "subscription_group": "promotions", "requested_at": datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
                        "source": "test"},
            "recipient": dict(RECIPIENTS[region]), "template_id": "promo_spring", "variables": {"first_name": "Léa"},
            "channel_policy": "SMS", "expires_at": datetime(2026, 3, 2, 10, tzinfo=timezone.utc), "locale": "fr-FR",
            "consent_basis": "opt-in:form@2026-02-01T12:00:00+00:00",
        }
        event.update(overrides)
        validate(event, schemas.parsed_schema("ConsentChecked"), raise_errors=True)
        return event
    return build
