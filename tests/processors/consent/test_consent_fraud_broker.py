"""The consent stage's fraud guard on the real broker: a burst of OTPs to one premium-looking range is suppressed
(``fraud_suspected``) while normal traffic spread over ranges passes, and conversions are read without a dead letter."""
from __future__ import annotations

import threading
import uuid

from confluent_kafka import Consumer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from courrier.client import CourrierClient
from processors.consent.fraud import FraudGuard
from processors.consent.stage import ConsentStage
from processors.rules.fraud import Thresholds
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.table import TopicTable
from tests.processors.consent.test_consent_broker import collect

BURST_RANGE = "+4474001"  # GB mobile numbers: valid, SMS-capable, one 7-digit prefix
FLOOR = 10


def test_a_burst_to_one_prefix_is_suppressed_while_normal_traffic_passes(topic_settings: Settings) -> None:
    tables = [TopicTable(topic_settings, "consent"), TopicTable(topic_settings, "frequency")]
    for table in tables:
        table.start()
    guard = FraudGuard(Thresholds(prefix_floor=FLOOR, country_floor=10_000))
    runner = Runner(ConsentStage(tables[0], tables[1], fraud=guard), topic_settings, RunnerOptions(batch_size=50, metrics_port=0))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        client = CourrierClient(topic_settings, source="signup-form")
        client.report_conversion("m-0", "otp_verified", recipient="+33612345678")
        burst = [client.send(f"{BURST_RANGE}{i:05d}", "otp", {"code": "123456"}) for i in range(60)]
        normal = [client.send(f"+336{i:02d}345678", "otp", {"code": "123456"}) for i in range(20)]
        normal += [client.send(f"+4670{i:02d}34567", "otp", {"code": "123456"}) for i in range(20)]
        client.flush()
        receipts = collect(topic_settings, "receipt", lambda found: len(found) >= 60 - FLOOR, timeout_s=90)
        checked = collect(topic_settings, "consent-checked", lambda found: len(found) >= FLOOR + len(normal), timeout_s=90)
    finally:
        runner.stop()
        thread.join(30)
        for table in tables:
            table.stop()
    assert not thread.is_alive()
    suppressed = {r["context"]["message_id"] for r in receipts if (r["status"], r["reason"]) == ("SUPPRESSED", "fraud_suspected")}
    passed = {c["context"]["message_id"] for c in checked}
    assert len(suppressed) == 60 - FLOOR and suppressed <= set(burst)
    assert len(passed & set(burst)) == FLOOR
    assert set(normal) <= passed
    assert guard.detector._conversions._heard_at is not None  # the conversion was read and counted
    assert dead_letters(topic_settings) == 0


def dead_letters(settings: Settings) -> int:
    """Records on ``dead-letter`` (their values are other topics' bytes: counted, not decoded)."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    physical = settings.topic("dead-letter")
    try:
        partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
        return sum(max(0, high - low) for low, high in (consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)
                                                         for p in partitions))
    finally:
        consumer.close()
