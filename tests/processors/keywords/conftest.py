"""Builders for keywords-stage inputs, and the shipped keyword book."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas
from processors.keywords.book import KeywordBook, load

RECEIVED_AT = datetime(2026, 3, 2, 9, 0, 12, 345000, tzinfo=timezone.utc)


@pytest.fixture
def received_at() -> datetime:
    """When the ``inbound`` fixture's messages were received."""
    return RECEIVED_AT


@pytest.fixture(scope="session")
def book() -> KeywordBook:
    return load()


@pytest.fixture
def inbound() -> Callable[..., dict[str, Any]]:
    """A valid ``inbound`` value from a French mobile to the French short code; keyword arguments replace fields."""
    def build(text: str, **overrides: Any) -> dict[str, Any]:
        event = {"from_e164": "+33612345678", "to_sender_id": "36180", "text": text, "media_urls": [], "provider": "smpp",
                 "provider_message_id": None, "received_at": RECEIVED_AT}
        event.update(overrides)
        validate(event, schemas.parsed_schema("InboundMessage"), raise_errors=True)
        return event
    return build
