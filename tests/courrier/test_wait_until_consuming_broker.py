"""``wait_until_consuming``: a stage counts as ready once its consumer group is stable with partitions assigned."""
from __future__ import annotations

import time

from confluent_kafka import Consumer

from common.config import Settings
from common.kafka_clients import consumer_config
from courrier.processes import wait_until_consuming


def test_a_group_with_partitions_is_ready_and_a_stage_never_started_is_named(topic_settings: Settings) -> None:
    consumer = Consumer(consumer_config(topic_settings, f"{topic_settings.topic_prefix}courrier-consent"))
    consumer.subscribe([topic_settings.topic("send-requested")])
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:  # the group forms inside poll
            consumer.poll(0.2)
        assert wait_until_consuming(topic_settings, ["consent", "channel"], timeout_s=3.0) == ["channel"]
        assert wait_until_consuming(topic_settings, ["consent"], timeout_s=10.0) == []
    finally:
        consumer.close()
