"""Reading and writing the ``api-keys`` and ``api-key-usage`` topics for the ``courrier keys`` commands.

The guard reads keys through a ``TopicTable`` of its own; this module is for tools: check the topics
exist (a key written to a topic the broker auto-created, uncompacted, would expire), write records
and wait for the broker to acknowledge them, and take a snapshot of a topic.
"""
from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from common.config import Settings
from common.errors import CourrierError
from common.kafka_clients import producer_config, require_broker
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output
from processors.runtime.table import TopicTable

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


def publish(settings: Settings, outputs: Sequence[Output]) -> None:
    """Write ``outputs`` and return once the broker acknowledged every one; ``AccessError`` naming the first failure."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings, **{"message.timeout.ms": int(_TIMEOUT_S * 1000), "client.id": "courrier-keys"}))
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    for output in outputs:
        producer.produce(settings.topic(output.topic), key=output.key, value=serde.encode(output.topic, output.value),
                         on_delivery=delivered)
    left = producer.flush(_TIMEOUT_S + 5)
    if failures or left:
        raise AccessError(f"the broker {settings.bootstrap_servers} did not take the record: {failures[0] if failures else 'timed out'}")


def snapshot(settings: Settings, logical_topic: str) -> dict[str, Event]:
    """The latest value per key of a compacted topic, read to its end now."""
    table = TopicTable(settings, logical_topic)
    table.start()
    try:
        return dict(table)
    finally:
        table.stop()
