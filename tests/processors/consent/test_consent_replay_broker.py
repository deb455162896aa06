"""`courrier replay` into consent checks consent again as of now: a recipient who opted out since the first pass is
suppressed, the others pass again (the same request seen again is not a duplicate), each output stamped with the replay."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from common.config import Settings
from common.kafka_clients import consumer_config
from courrier import replay_copy
from courrier.client import CourrierClient
from courrier.replay import Request
from processors.consent.logic import Rules, consent_key
from processors.consent.stage import ConsentStage
from processors.rules.replay import REPLAY
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.table import TopicTable
from processors.runtime.testing import wait_for_row
from test_consent_broker import end_offsets  # noqa: I001 (same folder)

GROUP = "promotions"
STAYS, LEAVES = "+33612340001", "+33612340002"


class Outputs:
    """consent-checked and receipt from the beginning: (topic, recipient, status or None, replay id or None)."""

    def __init__(self, settings: Settings) -> None:
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer = Consumer(consumer_config(settings, f"outputs-{uuid.uuid4()}"))
        self._logical = {settings.topic(t): t for t in ("consent-checked", "receipt")}
        assignment = []
        for physical in self._logical:
            partitions = self._consumer.list_topics(physical, timeout=10).topics[physical].partitions
            assignment += [TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions]
        self._consumer.assign(assignment)
        self.seen: list[tuple[str, str, str | None, str | None]] = []

    def until(self, done, timeout_s: float = 60.0) -> list[tuple[str, str, str | None, str | None]]:
        deadline = time.monotonic() + timeout_s
        while not done(self.seen) and time.monotonic() < deadline:
            for message in self._consumer.consume(100, 0.2):
                if message.error() is None:
                    topic = self._logical[message.topic()]
                    value = self._serde.decode(topic, message.value())
                    recipient = value["recipient"]["e164"] if topic == "consent-checked" else value["recipient"]
                    replay = dict(message.headers() or []).get(REPLAY)
                    self.seen.append((topic, recipient, value.get("status"), replay.decode() if replay else None))
        return self.seen

    def close(self) -> None:
        self._consumer.close()


def test_a_replay_into_consent_suppresses_who_opted_out_since(topic_settings: Settings) -> None:
    settings = topic_settings
    for logical in ("consent", "consent-history", "frequency", "send-requested"):
        end_offsets(settings, logical)  # a topic created a moment ago may answer "not leader" for a while
    consents, sends = TopicTable(settings, "consent"), TopicTable(settings, "frequency")
    consents.start()
    sends.start()
    runner = Runner(ConsentStage(consents, sends, Rules(quiet_hours=None)), settings, RunnerOptions(batch_size=50, metrics_port=0))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    outputs = Outputs(settings)
    client = CourrierClient(settings, source="test")
    try:
        for number in (STAYS, LEAVES):
            client.record_consent(number, GROUP, True, source="form")
        client.flush()
        assert all(wait_for_row(consents, consent_key(n, GROUP), timeout_s=30) is not None for n in (STAYS, LEAVES))
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        for number in (STAYS, LEAVES):
            client.send(number, "promo", {}, lane="MARKETING", subscription_group=GROUP, campaign_id="spring")
        client.flush()
        first = outputs.until(lambda seen: len([s for s in seen if s[0] == "consent-checked"]) == 2)
        assert sorted(s[1] for s in first if s[0] == "consent-checked") == [STAYS, LEAVES]

        client.record_consent(LEAVES, GROUP, False, source="keyword")
        client.flush()
        deadline = time.monotonic() + 30
        while consents.get(consent_key(LEAVES, GROUP))["status"] != "OPTED_OUT" and time.monotonic() < deadline:
            time.sleep(0.1)
        plan = replay_copy.plan(settings, Request(topic="send-requested", start=before.isoformat(), end="now", into="consent"),
                                datetime.now(timezone.utc))
        assert replay_copy.copy(settings, plan).total == 2
        replayed = outputs.until(lambda seen: len([s for s in seen if s[3] == plan.replay_id]) >= 2)
    finally:
        outputs.close()
        runner.stop()
        thread.join(30)
        consents.stop()
        sends.stop()
    assert sorted((s[0], s[1], s[2]) for s in replayed if s[3] == plan.replay_id) == [
        ("consent-checked", STAYS, None), ("receipt", LEAVES, "SUPPRESSED")]
