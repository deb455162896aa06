"""What a table needs around its store: opening it only when it can be trusted, the topic's facts (watermarks, id),
sweeping stores of deleted topics, and giving back the memory a restore freed. See ``runtime.table``."""
from __future__ import annotations

import ctypes
import logging
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from common.config import Settings
from processors.runtime.store import RowStore, sweep

log = logging.getLogger("processors.runtime.table")
_swept: set[Path] = set()  # state dirs whose stale stores this process has already removed


def open_checked(root: Path, name: str, ranges: dict[int, tuple[int, int]], topic: str, logical: str) -> RowStore:
    """The local store ``root/name``, rebuilt (one log line) unless what it holds is topic id ``topic``'s, up to offsets
    the topic still has (of ``ranges``' partitions: a store holds those only)."""
    store = RowStore(root, name)
    reason = store.rebuilt_reason
    if reason is None and not store.valid_format():
        reason = None if store.created else "no offsets record"
    elif reason is None and topic and store.topic_id() != topic:
        reason = f"store is of topic id {store.topic_id()}, the topic's is {topic} (deleted and created again?)"
    elif reason is None:
        for partition, position in store.positions().items():
            low, high = ranges.get(partition, (0, -1))  # a partition not of this store's: rebuilt
            if not low <= position <= high:
                reason = f"partition {partition} stored at offset {position}, outside the topic's {low}..{high}"
                break
    if reason is not None or not store.valid_format():
        if reason is not None:
            log.warning("table store rebuilt from its topic", extra={"topic": logical, "path": str(store.path), "reason": reason})
        store.reset(topic)
    return store


def sweep_once(root: Path, consumer: Consumer) -> None:
    """Remove, once per process and state dir, the stores of topics the cluster no longer has."""
    if root in _swept:
        return
    _swept.add(root)
    live = set(consumer.list_topics(timeout=10).topics)
    removed = sweep(root, live)
    if removed:
        log.info("removed the table stores of deleted topics", extra={"count": len(removed)})


def describe_progress(progress: dict[int, tuple[int, int, int]]) -> str:
    """Records read of those to read, and each partition's offset against its end (partition → next offset, end,
    first offset read)."""
    done = sum(max(0, min(position, end) - start) for position, end, start in progress.values())
    total = sum(max(0, end - start) for _, end, start in progress.values())
    parts = ", ".join(f"{p} at {position:,} of {end:,}" for p, (position, end, _) in sorted(progress.items()))
    return f"{done:,} of {total:,} records read (partition {parts})" if parts else "the topic's partitions not read yet"


def give_back_freed_memory() -> None:
    """Return to the system the heap a load freed but glibc keeps (librdkafka's fetch buffers, the batches): measured
    at 40 % of the RSS of a process that had just loaded a million rows. Elsewhere than glibc there is nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def watermarks(consumer: Consumer, physical: str, partition: int, deadline: float) -> tuple[int, int]:
    """The partition's (low, high) watermarks; NOT_LEADER (a topic created a moment ago) is retried until ``deadline``."""
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(physical, partition), timeout=10)
            return low, high
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def topic_id(settings: Settings, physical: str) -> str:
    """The topic's id (a topic deleted and created again gets a new one), or "" when the broker does not say."""
    from confluent_kafka import TopicCollection

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": log})
    try:
        description = admin.describe_topics(TopicCollection([physical]), request_timeout=10)[physical].result()
        return str(description.topic_id) if description.topic_id is not None else ""
    except KafkaException:
        return ""
