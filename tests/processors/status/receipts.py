"""Receipts as the stages write them (``processors.receipts.receipt``), for the status and callbacks tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from processors.receipts import receipt
from processors.runtime.stage import Event

T0 = datetime(2030, 1, 2, 9, tzinfo=timezone.utc)
RECIPIENT = "+33612345678"


def context(message_id: str = "m-1", campaign_id: str | None = None, variant: str | None = None,
            api_key_id: str | None = None, status_callback: str | None = None) -> Event:
    return {"message_id": message_id, "idempotency_key": None, "campaign_id": campaign_id, "variant": variant,
            "lane": "TRANSACTIONAL", "subscription_group": None, "requested_at": T0, "source": "api", "api_key_id": api_key_id,
            "status_callback": status_callback}


def made(status: str, ctx: Event | None = None, seconds: int = 0, stage: str = "receipt", **fields: Any) -> Event:
    """A receipt of ``status`` (SMS through ``smpp`` unless ``fields`` say otherwise), ``seconds`` after T0."""
    defaults: dict[str, Any] = {"channel": "SMS", "segments": 1, "provider": "smpp", "provider_message_id": "p-1"}
    if status == "SENT":
        defaults.update(cost_micros=45000, currency="EUR")
    value = receipt(ctx or context(), RECIPIENT, status, stage, T0 + timedelta(seconds=seconds), event_id=f"e-{status}-{seconds}",
                    **{**defaults, **fields}).value
    assert isinstance(value, dict)
    return value
