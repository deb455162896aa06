"""Every channel policy through the broker with the simulator's capability API: capable, not capable, and the API down
(RCS with fallback → SMS ``rcs_capability_unknown``; RCS only → retried through the scheduler, resolved once it is back)."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from processors.providers.rbm.capability import CapabilityClient, static_bearer
from processors.channel.stage import ChannelStage
from processors.runtime import policy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.scheduler.scheduler import Scheduler
from sim.testing import SimControl, private_sim

FR, US = "FR", "US"


class Outputs:
    """Reads channel-resolved, receipt and retry from the beginning in the background, by message id."""

    def __init__(self, settings: Settings) -> None:
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._logical = {settings.topic(t): t for t in ("channel-resolved", "receipt", "retry")}
        self._consumer = Consumer(consumer_config(settings, f"channel-test-{uuid.uuid4()}"))
        self._consumer.subscribe(list(self._logical))
        self.seen: dict[str, list[tuple[str, Any]]] = {}
        self.retries: list[str] = []  # error classes of the retry records, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(100, 0.2):
                if message.error() is not None:
                    continue
                logical = self._logical[message.topic()]
                if logical == "retry":
                    self.retries.append(policy.header(message.headers(), policy.ERROR_CLASS) or "")
                    continue
                value = self._serde.decode(logical, message.value())
                self.seen.setdefault(value["context"]["message_id"], []).append((logical, value))

    def wait(self, check: Callable[[], bool], timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.05)
        return check()

    def first(self, message_id: str, timeout_s: float = 60.0) -> tuple[str, Any]:
        assert self.wait(lambda: message_id in self.seen, timeout_s), f"no output for {message_id}"
        return self.seen[message_id][0]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


@pytest.fixture
def sim() -> Iterator[SimControl]:
    with private_sim() as control:
        yield control


@pytest.fixture
def running(topic_settings: Settings, sim: SimControl) -> Iterator[Outputs]:
    """The channel stage (capability from the simulator, retries after 2 s) and the scheduler, in threads."""
    client = CapabilityClient(sim.url, static_bearer(sim.token), down_for_s=0.2, retry_after_s=2.0)
    runner = Runner(ChannelStage(rcs_capable=client), topic_settings, RunnerOptions(batch_size=50, metrics_port=0))
    scheduler = Scheduler(topic_settings, metrics_port=0)
    threads = [threading.Thread(target=runner.run, daemon=True), threading.Thread(target=scheduler.run, daemon=True)]
    for thread in threads:
        thread.start()
    outputs = Outputs(topic_settings)
    yield outputs
    outputs.close()
    runner.stop()
    scheduler.stop()
    for thread in threads:
        thread.join(30)


def publish(settings: Settings, checked_event, requests: list[tuple[str, str, str]]) -> list[str]:
    """One consent-checked event per (policy, region, e164); their message ids."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    ids = []
    for channel_policy, region, e164 in requests:
        event = checked_event(region, channel_policy=channel_policy)
        event["recipient"]["e164"] = e164
        event["context"]["message_id"] = f"m-{uuid.uuid4()}"
        producer.produce(settings.topic("consent-checked"), key=e164, value=serde.encode("consent-checked", event))
        ids.append(event["context"]["message_id"])
    assert producer.flush(30) == 0
    return ids


def resolved(outputs: Outputs, message_id: str) -> tuple[str | None, str | None]:
    topic, value = outputs.first(message_id)
    assert topic == "channel-resolved", value
    return value["channel"], value["fallback_reason"]


def test_every_policy_with_capable_and_not_capable_numbers(topic_settings: Settings, sim: SimControl, running: Outputs,
                                                            checked_event) -> None:
    ids = publish(topic_settings, checked_event, [
        ("RCS_WITH_SMS_FALLBACK", FR, "+33612345671"), ("RCS_WITH_SMS_FALLBACK", FR, "+33612345670"),
        ("RCS_ONLY", FR, "+33612345672"), ("RCS_ONLY", FR, "+33612345675"),
        ("SMS", FR, "+33612345676"), ("MMS", US, "+12015550123"), ("MMS", FR, "+33612345677")])
    fallback_capable, fallback_not, only_capable, only_not, sms, mms_us, mms_fr = ids
    assert resolved(running, fallback_capable) == ("RCS", None)
    assert resolved(running, fallback_not) == ("SMS", "rcs_not_capable")
    assert resolved(running, only_capable) == ("RCS", None)
    topic, suppressed = running.first(only_not)
    assert (topic, suppressed["status"], suppressed["reason"]) == ("receipt", "SUPPRESSED", "rcs_unsupported")
    assert resolved(running, sms) == ("SMS", None)
    assert resolved(running, mms_us) == ("MMS", None)
    assert resolved(running, mms_fr) == ("SMS", "mms_unsupported_in_region")
    assert sim.stats()["capability_checks"] == 4  # only the RCS policies asked, in bulk


def test_with_the_capability_api_down_fallback_sends_sms_and_rcs_only_waits(topic_settings: Settings, sim: SimControl,
                                                                            running: Outputs, checked_event) -> None:
    sim.configure(capability_down=True)
    fallback, only = publish(topic_settings, checked_event, [("RCS_WITH_SMS_FALLBACK", FR, "+33612345673"),
                                                             ("RCS_ONLY", FR, "+33612345674")])
    assert resolved(running, fallback) == ("SMS", "rcs_capability_unknown")
    assert running.wait(lambda: "CapabilityUnknown" in running.retries), "RCS_ONLY was not sent to the retry topic"
    assert only not in running.seen  # neither suppressed nor resolved while the test cannot be made
    sim.configure(capability_down=False)
    assert resolved(running, only) == ("RCS", None)
    assert len(running.seen[only]) == 1
