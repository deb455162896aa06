"""A read-only view of a compacted topic, kept on local disk (``processors.runtime.store``) and current with the topic.

The topic is the changelog: rows are its records' value bytes, stored as read, decoded only when looked up (a small
LRU keeps recently decoded rows); tombstones delete. The store remembers how far it has read each partition, so a
restart reads only what is new. It is a cache: a corrupt, missing or inconsistent store (it fails to open, has no
offsets record, belongs to an earlier topic of that name, or holds offsets outside the partitions' range) is rebuilt
from the topic with one log line, never used. A table that cannot load within its timeout says which topic and how
far it got (``UnreachableError``), and the stage exits non-zero.

Where it lives: ``<state_dir>/tables/<physical topic>/<instance id, else "table">-<slot>``. A slot is locked while a
table holds it, so several instances on one machine (or several tables of one topic in one process) never share a
store; a restarted instance takes the first free slot back, usually its own. Stores of topics the cluster no longer
has are removed after an hour unused. Memory is bounded by RocksDB's memtables and one shared block cache, not by
the number of rows.

A co-partitioned table (``co_partitioned_with=<input>``: keyed as that input is, like ``message-state`` by message id,
or a ``by_number`` topic placed by number, ``topology.partitioning``) holds only its stage's assigned partitions: the
runner's ``assign`` restores each from its own store (``…/<instance>-p<partition>-<slot>``) and the topic before a record
of them is read; ``revoke`` closes their stores (kept on disk: taken back, they resume where they stopped). Two
instances hold half the rows each; a lookup on a partition not held is the caller's bug and raises ``NotHeld``.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from common.config import Settings
from common.errors import DecodeError, NotHeld, UnreachableError
from common.kafka_clients import consumer_config
from processors.runtime.metrics import TABLES
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.restore import describe_progress, give_back_freed_memory, open_checked, sweep_once, topic_id, watermarks
from processors.runtime.store import RowStore
from topology.partitioning import check_same_count, key_partition, number_of
from topology.topics import topic as declared_topic

log = logging.getLogger(__name__)

EXPIRE_EVERY_S = 600.0  # how often rows past the topic's retention are dropped, as the broker drops their segments
# librdkafka prefetches up to 100,000 records or 64 MB per partition by default: that, not the rows, was most of a
# loading table's memory. A smaller queue keeps a load as fast (the store's writes are the pace) in a bounded RSS.
_CONSUMER = {"enable.partition.eof": True, "queued.min.messages": 5000, "queued.max.messages.kbytes": 4096}


class TopicTable(Mapping[str, Event]):
    """Latest value per key of one logical topic; tombstones delete. Reads every partition (or, co-partitioned, those
    assigned), commits nothing.

    Rows are decoded values, or the records' bytes for a topic without a value schema. Empty before ``start``;
    reading after ``stop`` is an error (the store is closed). A row that does not decode reads as absent and is
    counted in ``skipped`` (with a log line), as a bad record is skipped, never raised to the stage."""

    def __init__(self, settings: Settings, logical_topic: str, serde: AvroSerde | None = None, cache_size: int = 1024,
                 co_partitioned_with: str | None = None) -> None:
        self._settings = settings
        self._logical = logical_topic
        self._physical = settings.topic(logical_topic)
        self._serde = serde or AvroSerde(settings.registry_url, settings.topic)
        self._decoded = declared_topic(logical_topic).value_schema is not None  # else rows are the records' bytes
        self._retention_ms = declared_topic(logical_topic).retention_ms
        self.co_partitioned = co_partitioned_with is not None
        self._by_number = declared_topic(logical_topic).by_number  # rows placed by their number, else by their whole key
        # The physical input topic whose assigned partitions this table holds (None: it holds every partition).
        self.partner = settings.topic(co_partitioned_with) if co_partitioned_with else None
        self._stores: dict[int, RowStore] = {}  # partition → its store (one store for every partition unless co-partitioned)
        self._partition_count = 0
        self._topic_id: str | None = None
        self._stopped = False
        self._cache: OrderedDict[str, Event] = OrderedDict()
        self._cache_size = cache_size
        self._writes = 0  # bumped by every applied batch: a row decoded across a write is not cached
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._requests: queue.Queue[tuple[str, list[int], threading.Event]] = queue.Queue()
        self._restore_timeout_s = 60.0
        self._thread = threading.Thread(target=self._follow_or_fail, name=f"table-{logical_topic}", daemon=True)
        self._error: BaseException | None = None
        self._listeners: list[Callable[[str, Event], None]] = []
        self._progress: dict[int, list[int]] = {}  # partition → [next offset, end offset when taken, first offset read]
        self.skipped = 0
        self.misplaced = 0  # rows of a co-partitioned topic found on another partition than their number's
        self._warned: set[int] = set()
        self.loaded_at_start = 0  # rows the local stores already held when their partitions were taken (0 after a rebuild)
        self.records_read = 0  # records read from the topic since start
        TABLES.track(logical_topic, self)  # its size on /metrics (courrier_table_rows)

    @property
    def path(self) -> Path | None:
        return self._stores[min(self._stores)].path if self._stores else None  # co-partitioned: the lowest partition's

    @property
    def partitions(self) -> list[int]:
        """The partitions this table holds now."""
        return sorted(self._stores)

    def listen(self, listener: Callable[[str, Event], None]) -> None:
        """Call ``listener(key, row)`` for every row the table takes from now on (on the table's thread; register before
        ``start`` to see every row it holds, from its store and from the topic), so a caller can keep an index of its own."""
        self._listeners.append(listener)

    def start(self, timeout_s: float = 60.0) -> None:
        """Open the local store, read the topic from where the store stopped up to its end as of now, then keep following
        it. A co-partitioned table only learns the topic's partitions here; ``assign`` restores them."""
        self._restore_timeout_s = timeout_s
        self._thread.start()
        loaded = self._caught_up.wait(timeout_s)
        if self._error is not None:
            raise self._error
        if not loaded:
            raise UnreachableError(f"table {self._physical} did not load within {timeout_s:.0f}s from "
                                   f"{self._settings.bootstrap_servers}: {self.progress()}")

    def assign(self, partitions: list[int], input_count: int) -> None:
        """Restore ``partitions`` (the partner input's, which has ``input_count``) before the stage reads from them; raises
        ``UnreachableError`` naming the table and how far it got when that takes longer than the start timeout."""
        check_same_count(self._physical, self._partition_count, self.partner or "", input_count)
        wanted = [p for p in partitions if p not in self._stores]
        if wanted:
            self._ask("assign", wanted, self._restore_timeout_s)

    def revoke(self, partitions: list[int]) -> None:
        """Stop following ``partitions`` and close their stores (kept on disk)."""
        held = [p for p in partitions if p in self._stores]
        if held:
            self._ask("revoke", held, 30.0)

    def holds(self, key: str) -> bool:
        """Whether ``key``'s row (a ``by_number`` topic's: its number's rows) is held here; always for a whole table."""
        return not self.co_partitioned or self._partition_of(key.encode()) in self._stores

    def _ask(self, what: str, partitions: list[int], timeout_s: float) -> None:
        done = threading.Event()
        self._requests.put((what, partitions, done))
        if not done.wait(timeout_s) or self._error is not None:
            raise self._error or UnreachableError(f"table {self._physical} could not {what} partitions {partitions} within "
                                                  f"{timeout_s:.0f}s: {self.progress()}")

    def progress(self) -> str:
        """How far loading got: records read of those to read, and each partition's offset against its end at start."""
        return describe_progress({p: (v[0], v[1], v[2]) for p, v in list(self._progress.items())})

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._stopped = True
        with self._lock:
            stores, self._stores = set(self._stores.values()), {}
        for store in stores:
            store.close()

    # --- the Mapping
    def __getitem__(self, key: str) -> Event:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]  # no KeyError raised and caught per miss
        cached = self._cache.get(key)
        if cached is not None:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
            return cached
        store = self._store_for(key)
        writes = self._writes
        raw = store.get(key.encode()) if store is not None else None
        if raw is None:
            return default
        row = self._decode(key, raw)
        if row is None:
            return default
        with self._lock:
            if writes == self._writes:  # nothing written since the read: the decoded row is current
                self._cache[key] = row
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return row

    def raw(self, key: str) -> bytes | None:
        """``key``'s row as the topic holds it (the record's value bytes), without decoding it; None when absent."""
        store = self._store_for(key)
        return store.get(key.encode()) if store is not None else None

    def encode(self, row: Event) -> bytes:
        """``row`` as a record of this table's topic: the bytes ``raw`` answers once the table has read it."""
        return self._serde.encode(self._logical, row)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        store = self._store_for(key)
        return store is not None and store.get(key.encode()) is not None

    def __iter__(self) -> Iterator[str]:
        return (key.decode("utf-8", "replace") for store in self._open_stores() for key in store.keys())

    def __len__(self) -> int:
        return sum(len(store) for store in self._open_stores())

    def _open_stores(self) -> list[RowStore]:
        if self._stopped:
            raise RuntimeError(f"table {self._physical} is stopped")
        return list(set(self._stores.values()))

    def _store_for(self, key: str) -> RowStore | None:
        if self._stopped:
            raise RuntimeError(f"table {self._physical} is stopped")
        if not self.co_partitioned:
            return next(iter(self._stores.values()), None)
        partition = self._partition_of(key.encode())
        store = self._stores.get(partition)
        if store is None:
            raise NotHeld(f"table {self._physical} holds partitions {self.partitions}, not {partition} where {key!r} is: "
                          f"the record about it should have been read from that partition")
        return store

    def _partition_of(self, key: bytes) -> int:
        return key_partition(number_of(key) if self._by_number else key, self._partition_count)

    def _decode(self, key: str, raw: bytes) -> Event | None:
        if not self._decoded:
            return raw
        try:
            return self._serde.decode(self._logical, raw)
        except DecodeError as exc:  # a bad row must not stop the stage; it is visible in the logs and the count
            self.skipped += 1
            log.warning("table row skipped", extra={"topic": self._logical, "error": str(exc)})
            return None

    # --- following the topic
    def _follow_or_fail(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # handed to start() or assign(), which raise it in the caller's thread
            if self._caught_up.is_set():
                log.error("table stopped following its topic", extra={"topic": self._logical, "error": str(exc)})
            self._error = exc
            self._caught_up.set()
            while not self._requests.empty():
                self._requests.get_nowait()[2].set()

    def _follow(self) -> None:
        # The end of a partition is where a read_committed reader runs out of records: the offset after its last record
        # can be a transaction's commit marker, or records of a transaction still open, which no record reaches.
        consumer = Consumer(consumer_config(self._settings, f"courrier-table-{uuid.uuid4()}", **_CONSUMER))
        behind: set[int] = set()
        waiting: list[tuple[set[int], threading.Event]] = []
        try:
            metadata = consumer.list_topics(self._physical, timeout=10).topics.get(self._physical)
            partitions = sorted(metadata.partitions) if metadata and not metadata.error else []
            self._partition_count = len(partitions)
            sweep_once(self._settings.state_dir / "tables", consumer)
            if self.co_partitioned:
                self._caught_up.set()  # nothing to read until partitions are assigned
            else:
                waiting.append((self._take(consumer, partitions, behind), self._caught_up))
            expired_at = time.monotonic()
            while not self._stopping.is_set():
                while not self._requests.empty():
                    what, asked, done = self._requests.get_nowait()
                    if what == "assign":
                        waiting.append((self._take(consumer, asked, behind), done))
                    else:
                        self._release(consumer, asked, behind)
                        done.set()
                messages = consumer.consume(1000, 0.2 if not waiting else 0.05)
                self._read(messages, behind)
                for entry in [w for w in waiting if not (w[0] & behind)]:
                    waiting.remove(entry)
                    if entry[1] is self._caught_up:
                        give_back_freed_memory()
                    entry[1].set()
                if time.monotonic() - expired_at >= EXPIRE_EVERY_S:
                    expired_at = time.monotonic()
                    for store in set(self._stores.values()):
                        self._expire(store)
        finally:
            consumer.close()

    def _take(self, consumer: Consumer, partitions: list[int], behind: set[int]) -> set[int]:
        """Open the store(s) of ``partitions``, start reading each where its store stopped; the partitions still behind."""
        deadline = time.monotonic() + 30
        ranges = {p: watermarks(consumer, self._physical, p, deadline) for p in partitions}
        name = self._settings.instance_id or "table"
        if self.co_partitioned:
            opened = {p: self._open_checked(f"{name}-p{p}", {p: ranges[p]}) for p in partitions}
        else:
            store = self._open_checked(name, ranges)
            opened = {p: store for p in partitions}
        for p, store in opened.items():
            start = store.positions().get(p, ranges[p][0])
            self._progress[p] = [start, ranges[p][1], start]
        for store in set(opened.values()):  # one store for every partition unless co-partitioned
            self.loaded_at_start += len(store)
            if self._listeners:
                for raw_key, raw in store.items():
                    self._notify(raw_key.decode("utf-8", "replace"), raw)
            self._expire(store)
        with self._lock:
            self._stores.update(opened)
        consumer.incremental_assign([TopicPartition(self._physical, p, self._progress[p][0]) for p in partitions])
        taken = {p for p in partitions if self._progress[p][1] > self._progress[p][0]}
        behind |= taken
        return taken

    def _misplaced(self, partition: int, key: bytes) -> None:
        # Written by a producer that did not place it (an older Courrier, another client): the instance that holds the
        # number's own partition cannot see it, so it is not used here either, and said once per partition.
        self.misplaced += 1
        if partition not in self._warned:
            self._warned.add(partition)
            log.error("table rows on the wrong partition are ignored: produce them again through Courrier's client",
                      extra={"topic": self._logical, "partition": partition, "expected": self._partition_of(key)})

    def _release(self, consumer: Consumer, partitions: list[int], behind: set[int]) -> None:
        consumer.incremental_unassign([TopicPartition(self._physical, p) for p in partitions])
        with self._lock:
            closed = [self._stores.pop(p) for p in partitions if p in self._stores]
            self._cache.clear()
            self._writes += 1
        for p in partitions:
            behind.discard(p)
            self._progress.pop(p, None)
        for store in closed:
            store.close()

    def _read(self, messages: list[Any], behind: set[int]) -> None:
        batches: dict[int, list[tuple[bytes, bytes | None, int]]] = {}
        moved: dict[int, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    behind.discard(message.partition())
                continue
            partition, offset, key = message.partition(), message.offset(), message.key()
            if partition not in self._stores:  # released while its records were in flight
                continue
            moved[partition] = offset + 1
            if key is None:
                self.skipped += 1
                continue
            if self.co_partitioned and self._partition_of(key) != partition:
                self._misplaced(partition, key)
                continue
            batches.setdefault(partition, []).append((key, message.value(), message.timestamp()[1]))
        if not moved:
            return
        for store in {self._stores[p] for p in moved}:
            mine = [p for p in moved if self._stores[p] is store]
            self._apply(store, [row for p in mine for row in batches.get(p, ())], {p: moved[p] for p in mine})
        for partition, position in moved.items():
            self._progress[partition][0] = position
            if partition in behind and position >= self._progress[partition][1]:
                behind.discard(partition)

    def _apply(self, store: RowStore, batch: list[tuple[bytes, bytes | None, int]], moved: dict[int, int]) -> None:
        store.apply(batch, moved)
        self.records_read += len(batch)
        with self._lock:
            self._writes += 1
            for raw_key, _, _ in batch:
                self._cache.pop(raw_key.decode("utf-8", "replace"), None)
        if self._listeners:
            for raw_key, value, _ in batch:
                if value is not None:
                    self._notify(raw_key.decode("utf-8", "replace"), value)

    def _notify(self, key: str, raw: bytes) -> None:
        row = self._decode(key, raw)
        if row is not None:
            for listener in self._listeners:
                listener(key, row)

    def _expire(self, store: RowStore) -> None:
        if self._retention_ms >= 0 and declared_topic(self._logical).compacted:
            dropped = store.expire(int(time.time() * 1000) - self._retention_ms)
            if dropped:
                with self._lock:
                    self._writes += 1
                    self._cache.clear()

    def _open_checked(self, name: str, ranges: dict[int, tuple[int, int]]) -> RowStore:
        if self._topic_id is None:
            self._topic_id = topic_id(self._settings, self._physical)
        return open_checked(self._settings.state_dir / "tables" / self._physical, name, ranges, self._topic_id, self._logical)
