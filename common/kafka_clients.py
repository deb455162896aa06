"""Kafka client settings in one place: idempotent producers, manual commits, read-committed consumers."""
from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from common.config import Settings
from common.errors import MissingTopics, UnreachableError

# librdkafka's own log lines go through Python logging, so they come out as masked JSON like the rest.
_LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
# The reachability probe reports failure in one line of its own; librdkafka's retries would only repeat it.
_PROBE_LOG = logging.getLogger("librdkafka.probe")
_PROBE_LOG.setLevel(logging.CRITICAL)
_PROBE_LOG.propagate = False


def producer_config(settings: Settings, transactional_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """An idempotent producer batching a few milliseconds; transactional when ``transactional_id`` is given."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": settings.kafka_compression,
        "client.id": "courrier",
        "logger": _LIBRDKAFKA_LOG,
    }
    if transactional_id:
        config["transactional.id"] = transactional_id
    config.update(overrides)
    return config


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer that commits only what the runtime says is done and never reads aborted transactions."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
        # A killed instance's partitions wait this long for a new owner (librdkafka's default is 45 s); heartbeats run
        # on librdkafka's own thread every 2 s, so a busy stage is not mistaken for a dead one.
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": 2000,
        "client.id": "courrier",
        "logger": _LIBRDKAFKA_LOG,
    }
    config.update(overrides)
    return config


def broker_answers(settings: Settings, timeout_s: float = 10.0) -> bool:
    """Whether the broker answers a metadata request with at least one broker, quietly (no librdkafka retry lines)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "socket.timeout.ms": int(timeout_s * 1000),
                         "logger": _PROBE_LOG})
    try:
        return bool(admin.list_topics(timeout=timeout_s).brokers)
    except KafkaException:  # unreachable, or still loading its metadata
        return False


def require_broker(settings: Settings, timeout_s: float | None = None) -> None:
    """Fail with one clear line when the broker does not answer a metadata request within ``timeout_s``
    (``COURRIER_BROKER_TIMEOUT_S`` by default)."""
    timeout_s = settings.broker_timeout_s if timeout_s is None else timeout_s
    if not broker_answers(settings, timeout_s):
        raise UnreachableError(
            f"Kafka broker {settings.bootstrap_servers} did not answer within {timeout_s:.0f}s; "
            "run `courrier infra up kafka` or set KAFKA_BOOTSTRAP_SERVERS"
        )


def require_topics(settings: Settings, physical_topics: list[str], timeout_s: float = 10.0) -> None:
    """Fail with one line naming the topics the broker does not have, and what to run: a broker that creates topics on
    first use would otherwise make them with its own partition count, not the topology's."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": _LIBRDKAFKA_LOG})
    listed = admin.list_topics(timeout=timeout_s).topics
    missing = sorted(name for name in physical_topics if name not in listed or listed[name].error is not None)
    if missing:
        raise MissingTopics(f"the broker {settings.bootstrap_servers} has no topic {', '.join(missing)}; "
                            "run `courrier topology apply` (once per upgrade) and start the stage again")


def assign_at_end(consumer: Consumer, physical_topics: list[str], timeout_s: float = 30.0) -> None:
    """Assign every partition of these topics at its current end, so only records written from now on are read.

    A topic created a moment ago answers NOT_LEADER for a while: that is retried until ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    assignment: list[TopicPartition] = []
    for physical in physical_topics:
        for partition in sorted(consumer.list_topics(physical, timeout=10).topics[physical].partitions):
            assignment.append(TopicPartition(physical, partition, end_offset(consumer, physical, partition, deadline)))
    consumer.assign(assignment)


def end_offset(consumer: Consumer, physical: str, partition: int, deadline: float) -> int:
    """The partition's high watermark; NOT_LEADER (a topic created a moment ago) is retried until ``deadline`` (monotonic)."""
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(physical, partition), timeout=10)[1]
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
