"""When each API key was last used: kept in memory per request, published to ``api-key-usage`` every so often.

Per request it is one dict write; the topic gets at most one record per key and flush interval per
instance. Usage has a topic of its own so that it can never overwrite a key record, and so a revoke
is never undone by an instance that still held the older record.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone

from confluent_kafka import KafkaError, Message, Producer

from common.config import Settings
from common.kafka_clients import producer_config
from processors.access.store import USAGE_TOPIC
from processors.runtime.serde import AvroSerde

log = logging.getLogger(__name__)


class UsageRecorder:
    """Remembers each key's last accepted request; once started, publishes what changed every ``key_usage_flush_s``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._instance = settings.instance_id or f"http-{uuid.uuid4().hex[:8]}"
        self._seen: dict[str, datetime] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._serde: AvroSerde | None = None

    def touch(self, key_id: str) -> None:
        """``key_id`` was just accepted."""
        with self._lock:
            self._seen[key_id] = datetime.now(timezone.utc)
            self._dirty.add(key_id)

    def last_used(self, key_id: str) -> datetime | None:
        """This instance's last accepted request with ``key_id``."""
        with self._lock:
            return self._seen.get(key_id)

    def start(self) -> None:
        """Register the schema (a bad registry fails now) and start publishing in the background."""
        self._serde = AvroSerde(self._settings.registry_url, self._settings.topic)
        self._serde.prepare((USAGE_TOPIC,))
        self._producer = Producer(producer_config(self._settings, **{"client.id": "courrier-key-usage"}))
        self._thread = threading.Thread(target=self._run, name="api-key-usage", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Publish what is left and stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._flush()
            assert self._producer is not None
            self._producer.flush(10)

    def _run(self) -> None:
        while not self._stopping.wait(self._settings.key_usage_flush_s):
            self._flush()

    def _flush(self) -> None:
        assert self._producer is not None and self._serde is not None
        with self._lock:
            changed = {key_id: self._seen[key_id] for key_id in self._dirty}
            self._dirty.clear()
        for key_id, when in changed.items():
            value = {"key_id": key_id, "last_used_at": when, "instance": self._instance}
            self._producer.produce(self._settings.topic(USAGE_TOPIC), key=key_id, value=self._serde.encode(USAGE_TOPIC, value),
                                   on_delivery=_report)
        self._producer.poll(0)


def _report(error: KafkaError | None, message: Message) -> None:
    if error is not None:  # last-used is informative only; the next flush writes a newer time anyway
        log.warning("api key usage not written", extra={"error": str(error)})
