"""Broker-test helpers: the receiver served by uvicorn on an ephemeral loopback port, stages in threads, topic I/O."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from fastapi import FastAPI

from common.config import Settings
from common.kafka_clients import consumer_config, producer_config
from sim.testing import served_in_thread
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.webhooks.api import create_app
from processors.web.webhook_settings import WebhookSettings


@dataclass
class Served:
    """A running receiver: its webhook URL for the simulator provider, and its app (for its service's counters)."""

    url: str
    app: FastAPI

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextmanager
def serve(settings: Settings, webhook: WebhookSettings | None = None) -> Iterator[Served]:
    """The receiver in a background thread on 127.0.0.1, port chosen by the OS; stopped (producer flushed) on exit."""
    app = create_app(settings, webhook)
    with served_in_thread(app, "webhook-test-server", 60.0) as url:
        yield Served(url, app)


class Runnable(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


@contextmanager
def running(*loops: Runnable) -> Iterator[None]:
    """Run each loop (a ``Runner``, the ``Scheduler``) in a thread until the block ends."""
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for loop in loops:
            loop.stop()
        for thread in threads:
            thread.join(30)


def produce(settings: Settings, logical: str, key: str, value: Event) -> None:
    producer = Producer(producer_config(settings))
    producer.produce(settings.topic(logical), key=key, value=AvroSerde(settings.registry_url, settings.topic).encode(logical, value))
    assert producer.flush(30) == 0


def read_until(settings: Settings, logical: str, done: Callable[[list[tuple[str, Event, dict[str, bytes]]]], bool],
               timeout_s: float = 60.0, decode: bool = True) -> list[tuple[str, Any, dict[str, bytes]]]:
    """(key, value, headers) of every record of ``logical`` from the beginning, read until ``done(records)`` or the timeout."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    physical = settings.topic(logical)
    consumer = Consumer(consumer_config(settings, f"webhook-reader-{uuid.uuid4()}"))
    partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
    consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions])
    found: list[tuple[str, Any, dict[str, bytes]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done(found):
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    value = serde.decode(logical, message.value()) if decode else message.value()
                    found.append((message.key().decode(), value, dict(message.headers() or [])))
    finally:
        consumer.close()
    return found

