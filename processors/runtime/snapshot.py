"""A command's one-off reads of a compacted topic, to its end now: one key's row, or every key's (a table started and
stopped around the read; stages keep theirs running instead)."""
from __future__ import annotations

from common.config import Settings
from processors.runtime.serde import AvroSerde
from processors.runtime.stage import Event
from processors.runtime.table import TopicTable


def read_row(settings: Settings, logical: str, key: str, serde: AvroSerde | None = None) -> Event | None:
    """``key``'s latest row in the compacted topic ``logical``, read to its end now (a command's one lookup), or None."""
    table = TopicTable(settings, logical, serde)
    table.start()
    try:
        return table.get(key)
    finally:
        table.stop()


def snapshot(settings: Settings, logical: str, serde: AvroSerde | None = None) -> dict[str, Event]:
    """The latest row of every key of the compacted topic ``logical``, read to its end now (a command's whole view)."""
    table = TopicTable(settings, logical, serde)
    table.start()
    try:
        return dict(table)
    finally:
        table.stop()
