"""Where a producer puts a record: the default partitioner's choice, except for ``by_number`` topics, whose rows go to
the partition of their number (``topology.partitioning``) so the tables built from them are co-partitioned with the
requests about that number. Every producer of Courrier's (runner, intake publisher, client) places records this way."""
from __future__ import annotations

import time
from typing import Any

from common.config import Settings
from common.errors import UnreachableError
from topology.partitioning import key_partition, number_of
from topology.topics import TOPICS

DEFAULT = -1  # librdkafka's RD_KAFKA_PARTITION_UA: let the partitioner choose


class Placement:
    """The partition to give ``produce`` for a physical topic and key; partition counts are read once per topic."""

    def __init__(self, settings: Settings, client: Any) -> None:
        self._by_number = {settings.topic(t.name) for t in TOPICS if t.by_number}
        self._client = client  # a Producer (or any client with list_topics)
        self._counts: dict[str, int] = {}

    def partition(self, physical: str, key: str | bytes | None) -> int:
        if physical not in self._by_number or not key:
            return DEFAULT
        count = self._counts.get(physical) or self._count(physical)
        return key_partition(number_of(key.encode() if isinstance(key, str) else key), count)

    def _count(self, physical: str) -> int:
        deadline = time.monotonic() + 15  # a topic created a moment ago is not described by every broker yet
        found = self._client.list_topics(physical, timeout=10).topics.get(physical)
        while (found is None or found.error is not None or not found.partitions) and time.monotonic() < deadline:
            time.sleep(0.2)
            found = self._client.list_topics(physical, timeout=10).topics.get(physical)
        if found is None or found.error is not None or not found.partitions:
            raise UnreachableError(f"cannot place a record on {physical}: the broker does not describe its partitions "
                                   f"({found.error if found is not None else 'no such topic'}); run `courrier topology apply`")
        self._counts[physical] = len(found.partitions)
        return self._counts[physical]
