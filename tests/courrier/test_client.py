"""``CourrierClient.send``: the message id it publishes is never blank, and the idempotency keys reserved for consent are refused."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from common.config import Settings
from courrier.client import CourrierClient
from processors.runtime.serde import AvroSerde


@pytest.fixture
def published(topic_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[CourrierClient, list[dict[str, Any]]]:
    """A client whose records are decoded and kept here instead of being produced."""
    client = CourrierClient(topic_settings, source="test")
    serde = AvroSerde(topic_settings.registry_url, topic_settings.topic)
    values: list[dict[str, Any]] = []
    monkeypatch.setattr(client, "_produce", lambda logical, _key, value: values.append(serde.decode(logical, value)))
    return client, values


def test_without_an_id_the_client_assigns_a_uuid(published: tuple[CourrierClient, list[dict[str, Any]]]) -> None:
    client, values = published
    message_id = client.send("+33612345678", "otp", {"code": "123456"})
    assert uuid.UUID(message_id).version == 4 and values[0]["context"]["message_id"] == message_id


def test_a_given_id_is_kept(published: tuple[CourrierClient, list[dict[str, Any]]]) -> None:
    client, values = published
    assert client.send("+33612345678", "otp", {"code": "123456"}, message_id="order-42-sms") == "order-42-sms"
    assert values[0]["context"]["message_id"] == "order-42-sms"


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_id_is_refused_before_anything_is_published(published: tuple[CourrierClient, list[dict[str, Any]]], blank: str) -> None:
    client, values = published
    with pytest.raises(ValueError, match="message_id must not be empty or blank"):
        client.send("+33612345678", "otp", {"code": "123456"}, message_id=blank)
    assert values == []


def test_an_idempotency_key_reserved_for_consent_is_refused(published: tuple[CourrierClient, list[dict[str, Any]]]) -> None:
    client, values = published
    with pytest.raises(ValueError, match="reserved"):
        client.send("+33612345678", "otp", {"code": "123456"}, idempotency_key="courrier:message-id:abc")
    assert values == []
