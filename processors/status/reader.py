"""The HTTP side's view of ``message-status`` and ``campaign-status``: two tables followed live, looked up by key."""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from confluent_kafka.admin import AdminClient

from common.config import Settings
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable
from processors.status.logic import campaign_key
from topology.topics import topic as declared_topic


class StatusReader:
    """Looks messages and campaigns up; ``start``/``close`` with the app's lifespan.

    ``messages``/``campaigns`` replace the tables and ``partitions`` the receipt topic's partition count (tests, tools);
    by default the reader follows the topics and asks the broker how many partitions ``receipt`` has."""

    def __init__(self, settings: Settings, messages: Mapping[str, Event] | None = None,
                 campaigns: Mapping[str, Event] | None = None, partitions: int | None = None) -> None:
        self._settings = settings
        self._tables = [] if messages is not None and campaigns is not None else [
            TopicTable(settings, "message-status"), TopicTable(settings, "campaign-status")]
        self._messages: Mapping[str, Event] = messages if messages is not None else self._tables[0]
        self._campaigns: Mapping[str, Event] = campaigns if campaigns is not None else self._tables[1]
        self._partitions = partitions

    def start(self) -> None:
        for table in self._tables:
            table.start()
        if self._partitions is None:
            self._partitions = receipt_partitions(self._settings)

    def close(self) -> None:
        for table in self._tables:
            table.stop()

    def message(self, message_id: str) -> Event | None:
        return self._messages.get(message_id)

    def campaign_rows(self) -> Iterator[Event]:
        """Every row of ``campaign-status`` (each campaign's and flow's counts per receipt partition), for the dashboard."""
        return iter(self._campaigns.values())

    def campaign(self, campaign_id: str) -> list[Event]:
        """The campaign's row of each receipt partition that has one."""
        partitions = self._partitions or 0
        rows = (self._campaigns.get(campaign_key(campaign_id, p)) for p in range(partitions))
        return [row for row in rows if row is not None]


def receipt_partitions(settings: Settings) -> int:
    """How many partitions the receipt topic has on the broker (its declared count when the broker does not say)."""
    physical = settings.topic("receipt")
    metadata = AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(physical, timeout=10).topics.get(physical)
    if metadata is not None and not metadata.error and metadata.partitions:
        return len(metadata.partitions)
    return declared_topic("receipt").partitions or settings.partitions
