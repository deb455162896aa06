"""Through the broker: an inbound STOP opts the number out before its next marketing message, and is answered."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable, Iterator

import pytest
from confluent_kafka import Consumer, Producer

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from courrier.client import CourrierClient
from processors.rules.consent import consent_key
from processors.consent.stage import ConsentStage
from processors.keywords.stage import KeywordsStage
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable
from tests.lanes import hop_topics

E164 = "+33612345678"
GROUP = "promotions"


def read_until(settings: Settings, serde: AvroSerde, logical: str, wanted: Callable[[Event], bool],
               timeout_s: float = 60.0) -> Event | None:
    """The first value of ``logical`` (a hop of the chain: or of its transactional lane's topic), read from the
    beginning, that ``wanted`` accepts, or None after ``timeout_s``."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4()}"))
    consumer.subscribe(hop_topics(settings, logical))
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(100, 0.2):
                if message.error() is None:
                    value = serde.decode(logical, message.value())
                    if wanted(value):
                        return value
        return None
    finally:
        consumer.close()


def wait_status(table: TopicTable, key: str, status: str, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = table.get(key)
        if row is not None and row["status"] == status:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def stages(topic_settings: Settings) -> Iterator[TopicTable]:
    """The keywords and consent stages running in threads; yields the consent stage's table."""
    table = TopicTable(topic_settings, "consent")
    table.start()
    runners = [Runner(KeywordsStage(), topic_settings, RunnerOptions(batch_size=50, metrics_port=0)),
               Runner(ConsentStage(table), topic_settings, RunnerOptions(batch_size=50, metrics_port=0))]
    threads = [threading.Thread(target=runner.run, daemon=True) for runner in runners]
    for thread in threads:
        thread.start()
    yield table
    for runner in runners:
        runner.stop()
    for thread in threads:
        thread.join(30)
    table.stop()


def test_stop_suppresses_the_next_marketing_message_and_is_confirmed(topic_settings: Settings, stages: TopicTable) -> None:
    settings, table = topic_settings, stages
    serde = AvroSerde(settings.registry_url, settings.topic)
    client = CourrierClient(settings, source="test")
    client.record_consent(E164, GROUP, True, source="form")
    client.flush()
    assert wait_status(table, consent_key(E164, GROUP), "OPTED_IN")

    producer = Producer(producer_config(settings))
    inbound = {"from_e164": E164, "to_sender_id": "36180", "text": "Stop !", "media_urls": [], "provider": "smpp",
               "provider_message_id": "mo-1", "received_at": datetime.now(timezone.utc)}
    producer.produce(settings.topic("inbound"), key=E164, value=serde.encode("inbound", inbound))
    producer.flush(30)
    assert wait_status(table, consent_key(E164, GROUP), "OPTED_OUT"), "the STOP never reached the consent table"

    marketing = client.send(E164, "promo_spring", {"first_name": "Ava", "discount": "20"}, lane="MARKETING", subscription_group=GROUP)
    client.flush()
    receipt = read_until(settings, serde, "receipt", lambda r: r["context"]["message_id"] == marketing)
    assert receipt is not None and (receipt["status"], receipt["reason"], receipt["terminal"]) == ("SUPPRESSED", "opted_out", True)
    assert "via keyword" in receipt["detail"]

    reply = read_until(settings, serde, "send-requested", lambda r: r["template_id"] == "keyword_reply")
    assert reply is not None
    assert (reply["recipient"], reply["context"]["lane"], reply["variables"]["kind"]) == (E164, "TRANSACTIONAL", "opt_out")
    # After STOP, nothing but the confirmation: the reply itself passes consent.
    reply_id = reply["context"]["message_id"]
    assert read_until(settings, serde, "consent-checked", lambda c: c["context"]["message_id"] == reply_id) is not None

    # The history keeps both changes: the form's opt-in (written by the client) and the keyword's opt-out.
    opt_in = read_until(settings, serde, "consent-history", lambda c: c["e164"] == E164 and c["source"] == "form")
    history = read_until(settings, serde, "consent-history", lambda c: c["e164"] == E164 and c["source"] == "keyword")
    assert opt_in is not None and opt_in["status"] == "OPTED_IN"
    assert history is not None and (history["status"], history["subscription_group"]) == ("OPTED_OUT", GROUP)
