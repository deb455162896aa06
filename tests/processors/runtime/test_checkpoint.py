"""The runner's producer reports failed deliveries only (``checkpoint.DeliveryErrors``): nothing per record written."""
from __future__ import annotations

from confluent_kafka import KafkaError, Producer

from common.config import Settings
from common.kafka_clients import producer_config
from processors.runtime.checkpoint import DeliveryErrors


def test_a_record_written_costs_no_report(topic_settings: Settings) -> None:
    deliveries = DeliveryErrors()
    producer = Producer(producer_config(topic_settings, **deliveries.producer_config()))
    for i in range(20):
        producer.produce(topic_settings.topic("dead-letter"), b"value", f"k-{i}")
    assert producer.flush(30) == 0
    assert deliveries.errors == []


def test_a_record_that_cannot_be_written_is_reported(topic_settings: Settings) -> None:
    deliveries = DeliveryErrors()
    nowhere = topic_settings.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})  # nothing listens on port 1
    producer = Producer(producer_config(nowhere, **{"message.timeout.ms": 300}, **deliveries.producer_config()))
    producer.produce("anything", b"value", b"k")
    producer.flush(10)
    assert [error.code() for error in deliveries.errors] == [KafkaError._MSG_TIMED_OUT]
