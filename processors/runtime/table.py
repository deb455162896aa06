"""A read-only, in-memory view of a compacted topic, rebuilt from Kafka at start and kept current.

Stages use it for reference data (consent state, templates): no local disk, so any instance can be
killed and a new one rebuilds the same view from the topic.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from courrier.config import Settings
from processors.runtime.clients import consumer_config, end_offset
from processors.runtime.errors import DecodeError, UnreachableError
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from topology.topics import topic as declared_topic

log = logging.getLogger(__name__)


class TopicTable(Mapping[str, Event]):
    """Latest value per key of one logical topic; tombstones delete. Reads every partition, commits nothing.

    Rows are decoded values, or the records' bytes for a topic without a value schema."""

    def __init__(self, settings: Settings, logical_topic: str, serde: AvroSerde | None = None) -> None:
        self._settings = settings
        self._logical = logical_topic
        self._serde = serde or AvroSerde(settings.registry_url, settings.topic)
        self._rows: dict[str, Event] = {}
        self._decoded = declared_topic(logical_topic).value_schema is not None  # else rows are the records' bytes
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._follow_or_fail, name=f"table-{logical_topic}", daemon=True)
        self._error: BaseException | None = None
        self._listeners: list[Callable[[str, Event], None]] = []
        self.skipped = 0

    def listen(self, listener: Callable[[str, Event], None]) -> None:
        """Call ``listener(key, row)`` for every row the table takes from now on (on the table's thread; register before
        ``start`` to see the rows it loads), so a caller can keep an index of its own without scanning the table."""
        self._listeners.append(listener)

    def start(self, timeout_s: float = 60.0) -> None:
        """Load the topic up to its end as of now, then keep following it in the background."""
        self._thread.start()
        loaded = self._caught_up.wait(timeout_s)
        if self._error is not None:
            raise self._error
        if not loaded:
            raise UnreachableError(f"table {self._settings.topic(self._logical)} did not load within {timeout_s:.0f}s from {self._settings.bootstrap_servers}")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def __getitem__(self, key: str) -> Event:
        with self._lock:
            return self._rows[key]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._rows))

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def _follow_or_fail(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # handed to start(), which raises it in the caller's thread
            if self._caught_up.is_set():
                log.error("table stopped following its topic", extra={"topic": self._logical, "error": str(exc)})
            self._error = exc
            self._caught_up.set()

    def _follow(self) -> None:
        physical = self._settings.topic(self._logical)
        # The end of a partition is where a read_committed reader runs out of records: the offset after its last record
        # can be a transaction's commit marker, or records of a transaction still open, which no record reaches.
        consumer = Consumer(consumer_config(self._settings, f"courrier-table-{uuid.uuid4()}", **{"enable.partition.eof": True}))
        try:
            metadata = consumer.list_topics(physical, timeout=10).topics.get(physical)
            partitions = sorted(metadata.partitions) if metadata and not metadata.error else []
            deadline = time.monotonic() + 30
            ends = {p: end_offset(consumer, physical, p, deadline) for p in partitions}
            consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions])
            behind = {p for p, end in ends.items() if end > 0}
            if not behind:
                self._caught_up.set()
            while not self._stopping.is_set():
                for message in consumer.consume(1000, 0.2):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            behind.discard(message.partition())
                        continue
                    self._apply(message.key(), message.value())
                    if message.partition() in behind and message.offset() + 1 >= ends[message.partition()]:
                        behind.discard(message.partition())
                if not behind:
                    self._caught_up.set()
        finally:
            consumer.close()

    def _apply(self, raw_key: bytes | None, value: bytes | None) -> None:
        if raw_key is None:
            self.skipped += 1
            return
        key = raw_key.decode("utf-8", "replace")
        if value is None:
            with self._lock:
                self._rows.pop(key, None)
            return
        try:
            row = self._serde.decode(self._logical, value) if self._decoded else value
        except DecodeError as exc:  # a bad row must not stop the table; it is visible in the logs and the count
            self.skipped += 1
            log.warning("table row skipped", extra={"topic": self._logical, "error": str(exc)})
            return
        with self._lock:
            self._rows[key] = row
        for listener in self._listeners:
            listener(key, row)

    def wait_for(self, key: str, timeout_s: float = 10.0) -> Event | None:
        """The row for ``key`` once it appears (for tests and tools that just wrote it), or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = self.get(key)
            if row is not None:
                return row
            time.sleep(0.05)
        return None
