"""The guard's start against the real broker: keys created and revoked while it runs, and a missing topic named at start."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from processors.access.guard import KeyGuard
from processors.access.keys import new_key, revoked
from processors.access.logic import Denial, Grant, authorize
from processors.access.store import KEYS_TOPIC, AccessError
from processors.runtime.publisher import write_now
from processors.runtime.stage import Output


def wait_until(check, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def leaders_elected(settings: Settings, logical: str) -> bool:
    """Whether every partition of a topic answers offset requests (a topic created a moment ago answers NOT_LEADER a while)."""
    consumer = Consumer(consumer_config(settings, f"probe-{uuid.uuid4()}"))
    physical = settings.topic(logical)
    try:
        for partition in consumer.list_topics(physical, timeout=10).topics[physical].partitions:
            consumer.get_watermark_offsets(TopicPartition(physical, partition), timeout=10)
        return True
    except KafkaException:
        return False
    finally:
        consumer.close()


def test_a_running_guard_follows_creates_and_revokes(topic_settings: Settings) -> None:
    assert wait_until(lambda: leaders_elected(topic_settings, KEYS_TOPIC))
    guard = KeyGuard(topic_settings)
    guard.start()
    try:
        made = new_key("app", ("messages:send",), datetime.now(timezone.utc))
        write_now(topic_settings, [Output(KEYS_TOPIC, made.key_id, made.record)])
        assert wait_until(lambda: isinstance(authorize(made.key, "messages:send", guard._keys.get), Grant))
        write_now(topic_settings, [Output(KEYS_TOPIC, made.key_id, revoked(made.record, datetime.now(timezone.utc)))])
        assert wait_until(lambda: isinstance(authorize(made.key, "messages:send", guard._keys.get), Denial))
        assert authorize(made.key, "messages:send", guard._keys.get).code == "revoked_api_key"
    finally:
        guard.close()


def test_a_guard_without_its_topic_says_what_to_run(real_parts: Settings) -> None:
    bare = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-"})
    with pytest.raises(AccessError, match="courrier topology apply"):
        KeyGuard(bare).start()
