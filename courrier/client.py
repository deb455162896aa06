"""A small Python client for apps that publish to Kafka directly: one call per message, no fallback code to write."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Mapping

from confluent_kafka import Producer

from courrier.config import Settings
from processors.runtime.clients import producer_config
from processors.runtime.serde import AvroSerde

LANES = ("TRANSACTIONAL", "MARKETING")
POLICIES = ("RCS_WITH_SMS_FALLBACK", "RCS_ONLY", "SMS", "MMS")


class CourrierClient:
    """Publishes ``send-requested`` and ``consent`` events with the Confluent wire format; call ``flush()`` before exiting."""

    def __init__(self, settings: Settings, source: str = "client") -> None:
        self._settings = settings
        self._source = source
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._producer = Producer(producer_config(settings))

    def send(
        self,
        recipient: str,
        template_id: str,
        variables: Mapping[str, str] | None = None,
        *,
        channel_policy: str = "SMS",
        lane: str = "TRANSACTIONAL",
        subscription_group: str | None = None,
        campaign_id: str | None = None,
        variant: str | None = None,
        idempotency_key: str | None = None,
        send_at: datetime | None = None,
        validity_seconds: int | None = None,
        default_region: str | None = None,
        locale: str | None = None,
        message_id: str | None = None,
    ) -> str:
        """Queue one message and return its ``message_id``; ``ValueError`` for a lane or policy that does not exist."""
        if lane not in LANES:
            raise ValueError(f"lane must be one of {', '.join(LANES)}, not {lane!r}")
        if channel_policy not in POLICIES:
            raise ValueError(f"channel_policy must be one of {', '.join(POLICIES)}, not {channel_policy!r}")
        message_id = message_id or str(uuid.uuid4())
        value = {
            "context": {
                "message_id": message_id, "idempotency_key": idempotency_key, "campaign_id": campaign_id, "variant": variant,
                "lane": lane, "subscription_group": subscription_group, "requested_at": datetime.now(timezone.utc), "source": self._source,
            },
            "recipient": recipient, "default_region": default_region, "template_id": template_id,
            "variables": dict(variables or {}), "channel_policy": channel_policy, "send_at": send_at,
            "validity_seconds": validity_seconds, "locale": locale,
        }
        self._produce("send-requested", recipient, self._serde.encode("send-requested", value))
        return message_id

    def record_consent(self, e164: str, subscription_group: str, opted_in: bool, *, lane: str = "MARKETING",
                       source: str = "api", evidence: str | None = None) -> None:
        """Publish a consent change: the latest state to the compacted ``consent`` topic, the change itself to ``consent-history``."""
        value = {
            "e164": e164, "subscription_group": subscription_group, "status": "OPTED_IN" if opted_in else "OPTED_OUT",
            "basis": lane, "source": source, "evidence": evidence, "changed_at": datetime.now(timezone.utc),
        }
        self._produce("consent", f"{e164}|{subscription_group}", self._serde.encode("consent", value))
        self._produce("consent-history", e164, self._serde.encode("consent-history", value))

    def _produce(self, logical_topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self._settings.topic(logical_topic), key=key, value=value)
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for every queued record; returns how many are still undelivered."""
        return self._producer.flush(timeout_s)
