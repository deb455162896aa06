"""A compacted table as read back, plus this instance's own writes: committed ones, and the batch in progress apart.

The table (a ``TopicTable``) shows every write once the broker has it; own writes are seen at once from memory, so
two receipts of one message in one batch see each other. The batch in progress is kept apart: when it aborts its
writes are dropped (its records are read again and produce them again), and when the next batch starts they count
as committed. Of two views of a row, the higher ``revision`` wins; own committed writes are dropped from memory once
the table shows them, so memory beyond the table stays bounded by what is in flight.
"""
from __future__ import annotations

from collections.abc import Mapping

from processors.runtime.own_writes import OwnWrites as Committed
from processors.runtime.stage import Event, Output


class OwnWrites:
    """Rows of one logical topic: ``get`` the newest view, ``put`` returns the record the runtime must produce."""

    def __init__(self, topic: str, table: Mapping[str, Event], keep: int = 10_000) -> None:
        self._topic = topic
        self._committed = Committed(table, _revision, keep)
        self._batch: dict[str, Event] = {}

    def get(self, key: str) -> Event | None:
        views = [row for row in (self._batch.get(key), self._committed.get(key)) if row is not None]
        return max(views, key=_revision) if views else None

    def put(self, key: str, row: Event) -> Output:
        self._batch[key] = row
        return Output(self._topic, key, row)

    def batch_started(self) -> None:
        """The previous batch committed (an aborted one was dropped first): its writes count as the table's to come."""
        self._committed.update(self._batch)
        self._batch.clear()

    def batch_aborted(self) -> None:
        self._batch.clear()

    def pending(self) -> int:
        """Own writes held in memory (the table has not shown them yet, or they were not pruned yet)."""
        return len(self._committed) + len(self._batch)


def _revision(row: Event) -> int:
    return row["revision"]
