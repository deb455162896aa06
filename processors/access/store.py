"""The ``api-keys`` and ``api-key-usage`` topics for the ``courrier keys`` commands: their names, and a check that they
exist (a key written to a topic the broker auto-created, uncompacted, would expire).

The guard reads keys through a ``TopicTable`` of its own; tools write with ``runtime.publisher.write_now`` and read
with ``runtime.snapshot``.
"""
from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from common.config import Settings
from common.errors import CourrierError
from common.kafka_clients import require_broker

KEYS_TOPIC = "api-keys"
USAGE_TOPIC = "api-key-usage"
_TIMEOUT_S = 15.0


class AccessError(CourrierError):
    """A keys command could not do what was asked: unknown key id, topic missing, broker refused the write."""


def require_topics(settings: Settings, logical_topics: Sequence[str] = (KEYS_TOPIC, USAGE_TOPIC)) -> None:
    """``AccessError`` naming the first missing topic and the command that creates it."""
    require_broker(settings)
    try:
        existing = AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=_TIMEOUT_S).topics
    except KafkaException as exc:
        raise AccessError(f"could not list topics on {settings.bootstrap_servers}: {exc}") from exc
    for logical in logical_topics:
        if settings.topic(logical) not in existing:
            raise AccessError(f"topic {settings.topic(logical)} does not exist; run `courrier topology apply`")
