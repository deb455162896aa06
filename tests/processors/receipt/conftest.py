"""Builders for receipt-stage inputs, and a feeder that runs the stage on them as the runtime would (one offset each)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from fastavro.validation import validate

from receipt_feeder import Feeder

import schemas

SUBMITTED_AT = datetime(2026, 3, 2, 9, 3, tzinfo=timezone.utc)
DELIVERED_AT = datetime(2026, 3, 2, 9, 3, 4, tzinfo=timezone.utc)


@pytest.fixture
def dispatched_event() -> Callable[..., dict[str, Any]]:
    """A valid ``dispatched`` value; ``parts`` provider ids; keyword arguments replace fields."""
    def build(parts: int = 1, **overrides: Any) -> dict[str, Any]:
        event = {
            "context": {"message_id": "m-1", "idempotency_key": None, "campaign_id": "spring", "variant": "B", "lane": "MARKETING",
                        "subscription_group": "promotions", "requested_at": datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
                        "source": "test"},
            "recipient": {"e164": "+33612345678", "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
            "channel": "SMS", "fallback_reason": "rcs_capability_unknown",
            "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
            "provider": "smpp:local", "provider_message_ids": [f"p{i}" for i in range(1, parts + 1)], "segments": parts,
            "submitted_at": SUBMITTED_AT,
        }
        event.update(overrides)
        validate(event, schemas.parsed_schema("Dispatched"), raise_errors=True)
        return event
    return build


@pytest.fixture
def provider_event(dispatched_event) -> Callable[..., dict[str, Any]]:
    """A valid ``provider-events`` value about a dispatched message of ``parts`` parts (``attributed=False``: none)."""
    def build(raw_status: str = "DELIVRD", parts: int = 1, attributed: bool = True, **overrides: Any) -> dict[str, Any]:
        event = {
            "provider": "smpp:local", "provider_message_id": "p1", "kind": "DELIVERY_REPORT", "raw_status": raw_status,
            "error_code": "000", "raw": f"id:p1 sub:001 dlvrd:001 submit date:2603020903 done date:2603020903 stat:{raw_status} err:000",
            "occurred_at": DELIVERED_AT, "dispatched": dispatched_event(parts) if attributed else None,
        }
        event.update(overrides)
        validate(event, schemas.parsed_schema("ProviderEvent"), raise_errors=True)
        return event
    return build


@pytest.fixture
def http_report() -> Callable[..., dict[str, Any]]:
    """A valid ``provider-events`` value as the webhook receiver writes it: attributed by ``message_id`` only."""
    def build(raw_status: str = "DELIVERED", kind: str = "DELIVERY_REPORT", **overrides: Any) -> dict[str, Any]:
        event = {
            "provider": "http:sim", "provider_message_id": "p1", "kind": kind, "raw_status": raw_status, "error_code": None,
            "raw": "{}", "occurred_at": DELIVERED_AT, "dispatched": None, "message_id": "m-1",
        }
        event.update(overrides)
        validate(event, schemas.parsed_schema("ProviderEvent"), raise_errors=True)
        return event
    return build


@pytest.fixture
def feeder() -> Feeder:
    return Feeder()
