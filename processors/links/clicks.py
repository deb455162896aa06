"""Recording clicks without making anyone wait for Kafka.

``record`` only encodes and queues the receipt (librdkafka sends it in the background); a background thread
serves delivery reports. When the local queue is full (the broker has been away for a while) the click is
counted as dropped and logged: the redirect still happens at once.
"""
from __future__ import annotations

import logging
import threading

from confluent_kafka import KafkaError, Message, Producer

from common.config import Settings
from common.kafka_clients import producer_config
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Output

log = logging.getLogger(__name__)


class ClickRecorder:
    """An idempotent producer of click receipts with counters of what was written, failed and dropped."""

    def __init__(self, settings: Settings, serde: AvroSerde | None = None) -> None:
        self._settings = settings
        self._serde = serde or AvroSerde(settings.registry_url, settings.topic)
        self._producer = Producer(producer_config(settings, **{"client.id": "courrier-links"}))
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="links-delivery-reports", daemon=True)
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        """Look the receipt schema up now (a bad registry fails at start, not on the first click), then serve reports."""
        self._serde.prepare(("receipt",))
        self._poller.start()

    def record(self, output: Output) -> bool:
        """Queue one receipt; False when the queue is full and it was dropped. Never waits."""
        value = self._serde.encode(output.topic, output.value)
        try:
            self._producer.produce(self._settings.topic(output.topic), key=output.key, value=value, on_delivery=self._report)
        except BufferError:
            with self._lock:
                self.dropped += 1
            log.warning("click dropped: producer queue full", extra={"topic": output.topic})
            return False
        return True

    def _report(self, error: KafkaError | None, _message: Message) -> None:
        with self._lock:
            if error is None:
                self.written += 1
            else:
                self.failed += 1
        if error is not None:
            log.warning("click receipt not written", extra={"error": str(error)})

    def _serve_reports(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop serving reports and flush what is still queued."""
        self._stopping.set()
        if self._poller.is_alive():
            self._poller.join(timeout=5)
        self._producer.flush(timeout_s)
