"""Test helpers: the intake served by uvicorn on an ephemeral loopback port with an API key of its own, and a reader of what it published."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from confluent_kafka import Consumer
from fastapi import FastAPI

from common.config import Settings
from common.kafka_clients import consumer_config
from sim.testing import served_in_thread
from processors.access.keys import NewKey, new_key
from processors.access.store import KEYS_TOPIC
from processors.runtime.publisher import write_now
from processors.intake.api import Guard, create_app
from processors.intake.service import IntakeService
from processors.intake.settings import IntakeSettings
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event, Output
from tests.lanes import assign_from_beginning


@dataclass
class Served:
    """A running intake: its base URL, its app (service, guard) and a ``messages:send`` key made for it."""

    url: str
    app: FastAPI
    key: NewKey

    @property
    def service(self) -> IntakeService:
        return self.app.state.service

    def client(self, api_key: str | None = None, authorized: bool = True) -> httpx.Client:
        """A client sending ``api_key`` (default: this intake's own key), or no key at all when not ``authorized``."""
        headers = {"Authorization": f"Bearer {api_key or self.key.key}"} if authorized else {}
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)


def create_key(settings: Settings, scopes: tuple[str, ...] = ("messages:send",), name: str = "test", rate_per_s: float | None = None,
               burst: int | None = None) -> NewKey:
    """A key written to the ``api-keys`` topic as `courrier keys create` writes it."""
    made = new_key(name, scopes, datetime.now(timezone.utc), rate_per_s, burst)
    write_now(settings, [Output(KEYS_TOPIC, made.key_id, made.record)])
    return made


@contextmanager
def serve(settings: Settings, intake: IntakeSettings | None = None, guard: Guard | None = None,
          insecure_no_auth: bool | None = None) -> Iterator[Served]:
    """uvicorn in a background thread on 127.0.0.1, port chosen by the OS; stopped (lifespan shutdown included) on exit.

    A ``messages:send`` key is written before the app starts, so its key table loads it.
    """
    key = create_key(settings)
    app = create_app(settings, intake, guard, insecure_no_auth=insecure_no_auth)
    with served_in_thread(app, "intake-test-server", access_log=True) as url:
        yield Served(url, app, key)


def read_topic(settings: Settings, logical: str, expected: int, timeout_s: float = 30.0, settle_s: float = 1.0) -> list[tuple[str, Event]]:
    """Every (key, value) of a topic (a hop of the chain: and of its transactional lane's) from the beginning: at least
    ``expected``, plus whatever lands within ``settle_s`` after."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    consumer = Consumer(consumer_config(settings, f"intake-reader-{uuid.uuid4()}"))
    assign_from_beginning(consumer, settings, logical)
    found: list[tuple[str, Event]] = []
    deadline = time.monotonic() + timeout_s
    settled_at: float | None = None
    try:
        while time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.2):
                if message.error() is None:
                    found.append((message.key().decode(), serde.decode(logical, message.value())))
            if len(found) >= expected:
                settled_at = settled_at or time.monotonic() + settle_s
                if time.monotonic() >= settled_at:
                    break
    finally:
        consumer.close()
    return found
