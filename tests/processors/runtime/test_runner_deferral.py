"""Deferred outputs through a real broker: ``Output.deliver_at`` goes to its lane's delay topic and the scheduler releases it at that time.

The scheduler runs on an injected clock, so the test moves time instead of waiting for it.
"""
from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from confluent_kafka import Producer

from common.config import Settings
from processors.receipts import receipt
from processors.runtime import policy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output, RecordMeta
from processors.scheduler.scheduler import Scheduler
from tests.processors.runtime.test_runner_broker import read_all

DUE = datetime(2031, 5, 6, 7, 0, tzinfo=timezone.utc)  # far from the wall clock: only the injected one reaches it
TRACE = ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


class DelayingStage:
    """Answers each request with a ``DEFERRED`` receipt now and a ``SENT`` one at ``DUE``; one more delayed side output."""

    name = "delaying"
    inputs = ("send-requested",)

    def __init__(self) -> None:
        self._side: list[Output] = []

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        now_receipt = receipt(event["context"], event["recipient"], "DEFERRED", self.name, meta.now, reason="test")
        later = receipt(event["context"], event["recipient"], "SENT", self.name, meta.now)
        self._side = [dataclasses.replace(receipt({**event["context"], "message_id": "side"}, "side", "SENT", self.name, meta.now),
                                          deliver_at=DUE + timedelta(hours=1))]
        return [now_receipt, dataclasses.replace(later, deliver_at=DUE)]

    def poll_outputs(self) -> list[Output]:
        side, self._side = self._side, []
        return side


class Clock:
    """A settable clock in epoch milliseconds, shared with the scheduler."""

    def __init__(self, at: datetime) -> None:
        self.ms = int(at.timestamp() * 1000)

    def set(self, at: datetime) -> None:
        self.ms = int(at.timestamp() * 1000)


@pytest.fixture
def running(topic_settings: Settings) -> Iterator[tuple[Settings, Clock, Scheduler]]:
    clock = Clock(DUE - timedelta(hours=2))
    runner = Runner(DelayingStage(), topic_settings, RunnerOptions(batch_size=50, metrics_port=0))
    scheduler = Scheduler(topic_settings, metrics_port=0, clock_ms=lambda: clock.ms)
    threads = [threading.Thread(target=runner.run, daemon=True), threading.Thread(target=scheduler.run, daemon=True)]
    for thread in threads:
        thread.start()
    yield topic_settings, clock, scheduler
    runner.stop()
    scheduler.stop()
    for thread in threads:
        thread.join(30)


def test_a_deferred_output_waits_on_scheduled_and_is_released_when_due(running: tuple[Settings, Clock, Scheduler]) -> None:
    settings, clock, scheduler = running
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    request = {"context": {"message_id": "m-1", "lane": "TRANSACTIONAL", "requested_at": datetime.now(timezone.utc)},
               "recipient": "+33612345678", "template_id": "otp", "channel_policy": "SMS"}
    producer.produce(settings.topic("send-requested"), key=b"+33612345678", value=serde.encode("send-requested", request), headers=[TRACE])
    producer.flush(30)

    delayed = read_all(settings, "scheduled-transactional", expected=2)  # both are of the transactional lane
    by_key = {m.key(): m for m in delayed}
    assert set(by_key) == {b"+33612345678", b"side"}
    record = by_key[b"+33612345678"]
    assert policy.header(record.headers(), policy.TARGET_TOPIC) == settings.topic("receipt")
    assert policy.header(record.headers(), policy.DUE_MS) == str(int(DUE.timestamp() * 1000))
    assert policy.header(record.headers(), policy.ATTEMPT) == "0"
    assert TRACE in record.headers()  # the input's own headers travel with its outputs, delayed or not
    assert serde.decode("receipt", record.value())["status"] == "SENT"
    side = by_key[b"side"]
    assert policy.header(side.headers(), policy.DUE_MS) == str(int((DUE + timedelta(hours=1)).timestamp() * 1000))

    (now_receipt,) = read_all(settings, "receipt", expected=1)
    assert serde.decode("receipt", now_receipt.value())["status"] == "DEFERRED"
    assert scheduler.metrics.produced.labels("scheduler", "receipt")._value.get() == 0  # held: not due

    clock.set(DUE)
    released = read_all(settings, "receipt", expected=2)
    assert sorted(serde.decode("receipt", m.value())["status"] for m in released) == ["DEFERRED", "SENT"]
    sent = next(m for m in released if serde.decode("receipt", m.value())["status"] == "SENT")
    assert (sent.key(), sent.value()) == (record.key(), record.value())
    assert TRACE in sent.headers() and policy.header(sent.headers(), policy.DUE_MS) is None
    assert scheduler.metrics.produced.labels("scheduler", "receipt")._value.get() == 1  # the side output still waits

    clock.set(DUE + timedelta(hours=1))
    assert {m.key() for m in read_all(settings, "receipt", expected=3)} == {b"+33612345678", b"side"}


def test_deliver_at_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Output("receipt", "k", {}, deliver_at=datetime(2031, 1, 1))
