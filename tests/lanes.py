"""Reading a hop of the chain in a test: a transactional message's record is on its lane's topic of the hop
(``topology.topics.lane_topic``), so a reader of the hop reads both."""
from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from common.config import Settings
from topology.topics import TRANSACTIONAL_LANE


def hop_topics(settings: Settings, logical: str) -> list[str]:
    """The physical topics of ``logical`` and, for a hop of the chain, of its transactional lane."""
    return [settings.topic(name) for name in dict.fromkeys((logical, TRANSACTIONAL_LANE.get(logical, logical)))]


def assign_from_beginning(consumer: Consumer, settings: Settings, logical: str) -> None:
    """Assign ``consumer`` every partition of the hop's topics (``hop_topics``), from the beginning."""
    assigned = []
    for physical in hop_topics(settings, logical):
        partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
        assigned += [TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions]
    consumer.assign(assigned)
