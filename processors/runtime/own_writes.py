"""A compacted topic's rows as this process wrote them, until the topic's table (``runtime.table``) shows them.

A stage that writes rows of a table it also reads (receipt's ``message-state``, dispatch's ``submissions``, status's
rows) must see its own writes at once: the table shows them only once they have gone round the broker. Of two views of
a row the one further along (``progress``) wins. Own rows are dropped once the table shows them at least as far along,
checked when more than ``keep`` are held (then only again when their number has doubled, so a lagging table does not
cost a scan per write): memory beyond the table stays bounded by what is in flight, however long the process runs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from processors.runtime.stage import Event


class OwnWrites:
    """Rows this process wrote to one table, newest per key, held until ``table`` shows them."""

    def __init__(self, table: Mapping[str, Event], progress: Callable[[Event], Any], keep: int = 10_000) -> None:
        self._table = table
        self._progress = progress
        self._rows: dict[str, Event] = {}
        self._keep = keep
        self._prune_above = keep

    def get(self, key: str) -> Event | None:
        """The row further along of this process's and the table's, or whichever exists."""
        mine, seen = self._rows.get(key), self._table.get(key)
        if mine is None or seen is None:
            return mine if mine is not None else seen
        return max(mine, seen, key=self._progress)

    def mine(self, key: str) -> Event | None:
        """This process's own row for ``key`` not yet dropped, if any."""
        return self._rows.get(key)

    def remember(self, key: str, row: Event) -> None:
        """A row written (or about to be committed): what ``get`` answers from now on, unless the table is further."""
        self._rows[key] = row
        if len(self._rows) > self._prune_above:
            self._prune()

    def update(self, rows: Mapping[str, Event]) -> None:
        for key, row in rows.items():
            self.remember(key, row)

    def items(self) -> list[tuple[str, Event]]:
        return list(self._rows.items())

    def __len__(self) -> int:
        return len(self._rows)

    def _prune(self) -> None:
        for key, row in list(self._rows.items()):
            seen = self._table.get(key)
            if seen is not None and self._progress(seen) >= self._progress(row):
                del self._rows[key]
        self._prune_above = max(self._keep, 2 * len(self._rows))
