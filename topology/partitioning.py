"""Which partition a key lands on, as Courrier's producers place it, so a table can be co-partitioned with its input.

librdkafka's default partitioner (``consistent_random``) puts a keyed record on ``crc32(key) % partitions``; a topic
declared ``by_number`` puts a row keyed ``E164|group`` where a record keyed ``E164`` goes. Then the instance that
reads a number's requests from partition p finds every row about that number in the table's partition p, and holds
only the partitions it is assigned. Co-partitioned topics need the same partition count (``check_same_count``).
"""
from __future__ import annotations

import zlib

from topology.errors import TopologyError
from topology.topics import topic as declared_topic


def key_partition(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default partitioner gives a non-empty ``key`` (checked against a broker in the tests)."""
    return zlib.crc32(key) % partitions


def number_of(key: bytes) -> bytes:
    """The part of a ``by_number`` topic's key that places it: the number before ``|``."""
    return key.split(b"|", 1)[0]


def row_partition(logical_topic: str, key: str | bytes, partitions: int) -> int | None:
    """Where a record of ``logical_topic`` keyed ``key`` must go, or None where the default partitioner places it."""
    if not declared_topic(logical_topic).by_number:
        return None
    raw = key.encode() if isinstance(key, str) else key
    return key_partition(number_of(raw), partitions)


def check_same_count(table: str, table_count: int, input_topic: str, input_count: int) -> None:
    """Raise when a co-partitioned table and its input have different partition counts (rows would be out of place)."""
    if table_count != input_count:
        raise TopologyError(f"{table} has {table_count} partitions and {input_topic} {input_count}: a table co-partitioned with "
                            f"its input needs the same count; give both COURRIER_PARTITIONS={max(table_count, input_count)}")
