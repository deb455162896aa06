"""Shared by dispatch's broker tests: a provider wrapper that counts what really left, rendered events, and a running stage."""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Sequence

from confluent_kafka import Consumer, Producer

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from processors.dispatch.provider import DeliveryReport, InboundSms, Provider, Submission, SubmitResult
from processors.providers.smpp.adapter import SmppProvider
from processors.dispatch.stage import DispatchStage
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.scheduler.scheduler import Scheduler


class Counted:
    """Wraps a provider; records, at the moment each ``submit_many`` call starts, every message handed over and its segments."""

    def __init__(self, inner: Provider, segments: Callable[[Submission], int] = lambda s: 1) -> None:
        self.inner = inner
        self.name = inner.name
        self._segments = segments
        self.lock = threading.Lock()
        self.handed: list[tuple[float, str, int]] = []  # (monotonic time, message id, segments)
        self.accepted: set[str] = set()

    @property
    def ready(self) -> bool:
        return getattr(self.inner, "ready", True)

    def reconnect(self) -> None:
        getattr(self.inner, "reconnect", lambda: None)()

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def submit_many(self, submissions: Sequence[Submission], timeout_s: float = 30.0) -> list[SubmitResult]:
        started = time.monotonic()
        with self.lock:
            self.handed.extend((started, s.message_id, self._segments(s)) for s in submissions)
        results = self.inner.submit_many(submissions, timeout_s)
        with self.lock:
            self.accepted.update(r.message_id for r in results if r.accepted)
        return results


class Received:
    """What a provider's callbacks were given (list appends are atomic, so the link thread may write here); each item is
    acknowledged at once, as a consumer that made it durable would (the SMSC then forgets it)."""

    def __init__(self) -> None:
        self.reports: list[DeliveryReport] = []
        self.inbound: list[InboundSms] = []

    def report(self, report: DeliveryReport) -> None:
        self.reports.append(report)
        if report.ack is not None:
            report.ack()

    def take(self, message: InboundSms) -> None:
        self.inbound.append(message)
        if message.ack is not None:
            message.ack()

    def reported(self, ids: set[str]) -> set[str]:
        return ids & {r.provider_message_id for r in self.reports}


def gsm7_segments(submission: Submission) -> int:
    """Segments of a plain-ASCII GSM-7 text (the tests' texts): 160 characters alone, 153 per part beyond."""
    return 1 if len(submission.text) <= 160 else -(-len(submission.text) // 153)


def smpp_factory(settings: Settings, made: list[Counted], port: int | None = None, **options) -> Callable:
    """A provider factory for ``DispatchStage``: an SMPP bind to the session's SMSC (or ``port``), counted."""
    host, default_port = settings.smpp_address

    def build(on_report, on_inbound) -> Counted:
        inner = SmppProvider(host, port or default_port, settings.smpp_system_id, settings.smpp_password, on_report=on_report,
                             on_inbound=on_inbound, decimal_receipt_ids=settings.smpp_decimal_receipt_ids, **options)
        made.append(Counted(inner, gsm7_segments))
        return made[-1]

    return build


def rendered(message_id: str, e164: str, sender_id: str, rate: float, lane: str = "MARKETING", text: str = "Spring sale: 20% off",
             campaign: str | None = "spring", group: str | None = "promotions") -> Event:
    """A ``Rendered`` value (GSM-7 text; segments as render counts them for plain ASCII)."""
    segments = 1 if len(text) <= 160 else -(-len(text) // 153)  # as gsm7_segments
    now = datetime.now(timezone.utc)
    return {
        "context": {"message_id": message_id, "idempotency_key": None, "campaign_id": campaign if lane == "MARKETING" else None,
                    "variant": None, "lane": lane, "subscription_group": group if lane == "MARKETING" else None,
                    "requested_at": now - timedelta(seconds=1), "source": "test"},
        "recipient": {"e164": e164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "channel": "SMS", "fallback_reason": None,
        "sender": {"sender_id": sender_id, "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": rate},
        "template_id": "promo", "sms": {"text": text, "encoding": "GSM7", "segments": segments, "units": len(text)},
        "rcs_json": None, "media_urls": [], "expires_at": None,
    }


def publish(settings: Settings, topic: str, events: Sequence[Event]) -> None:
    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings))
    for event in events:
        producer.produce(settings.topic(topic), key=event["sender"]["sender_id"], value=serde.encode(topic, event))
    assert producer.flush(30) == 0


class Outcomes:
    """Follows ``dispatched`` and ``receipt`` from the beginning: each message's outcomes, by message id."""

    def __init__(self, settings: Settings) -> None:
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._consumer = Consumer(consumer_config(settings, f"outcomes-{uuid.uuid4()}"))
        self._consumer.subscribe([settings.topic("dispatched"), settings.topic("receipt")])
        self._logical = {settings.topic("dispatched"): "dispatched", settings.topic("receipt"): "receipt"}
        self.by_message: dict[str, list[tuple[str, Event]]] = {}

    def wait(self, ids: set[str], timeout_s: float) -> dict[str, list[tuple[str, Event]]]:
        deadline = time.monotonic() + timeout_s
        while not ids <= set(self.by_message) and time.monotonic() < deadline:
            for message in self._consumer.consume(500, 0.2):
                if message.error() is None:
                    logical = self._logical[message.topic()]
                    value = self._serde.decode(logical, message.value())
                    self.by_message.setdefault(value["context"]["message_id"], []).append((logical, value))
        return self.by_message

    def close(self) -> None:
        self._consumer.close()


@contextmanager
def running(settings: Settings, *stages: DispatchStage, batch_size: int = 500, scheduler: bool = True,
            poll_s: float = 0.05) -> Iterator[list[Runner]]:
    """The stages (and the scheduler, which brings deferred and retried messages back) on threads until the block ends;
    ``poll_s`` as the marketing lane polls (``processors.runtime.lanes.POLL_S``)."""
    runners = [Runner(stage, settings, RunnerOptions(batch_size=batch_size, metrics_port=0, batch_timeout_s=poll_s,
                                                     group_id=f"{settings.topic_prefix}dispatch-{'-'.join(stage.inputs)}"))
               for stage in stages]
    loops: list = [*runners, *([Scheduler(settings, metrics_port=0)] if scheduler else [])]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        yield runners
    finally:
        for loop in loops:
            loop.stop()
        for thread in threads:
            thread.join(60)
