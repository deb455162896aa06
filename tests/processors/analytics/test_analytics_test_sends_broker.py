"""Transactional analytics through the real broker leave test sends out: their requests and receipts count nowhere."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from confluent_kafka import Producer

from common.config import Settings
from common.kafka_clients import producer_config
from processors.analytics.read import transactional
from processors.receipts import receipt
from processors.runtime.serde import AvroSerde
from processors.testsends.logic import request


def test_a_test_send_is_not_counted(topic_settings: Settings) -> None:
    settings = topic_settings
    now = datetime.now(timezone.utc)
    real = request("otp", "+33612345678", {"code": "1"}, "SMS", now)
    real.value["context"]["test"] = None  # the same request, as a customer's message
    real.value["context"]["message_id"] = "real-1"
    test = request("otp", "+33612345678", {"code": "1"}, "SMS", now)
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for output in (real, test):
        producer.produce(settings.topic("send-requested"), key=output.key, value=serde.encode("send-requested", output.value))
        delivered = receipt(output.value["context"], output.key, "DELIVERED", "receipt", now, channel="SMS")
        producer.produce(settings.topic("receipt"), key=delivered.key, value=serde.encode("receipt", delivered.value))
    assert producer.flush(30) == 0

    collected = transactional(settings, now - timedelta(minutes=5), now + timedelta(minutes=5), None, 10_000, 30.0)
    assert collected.summary.messages == 1 and collected.found == 2  # the customer's request and its receipt only
