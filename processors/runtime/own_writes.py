"""A compacted topic's rows as this process wrote them, until the topic's table (``runtime.table``) shows them.

A stage that writes rows of a table it also reads (receipt's ``message-state``, dispatch's ``submissions``, status's
rows, consent's ``frequency``) must see its own writes at once: the table shows them only once they have gone round the
broker. Of two views of a row the one further along (``progress``) wins, or they are merged (``merge``, with ``covers``
saying when the table's view holds all of this process's). Own rows are dropped once the table covers them, checked
when more than ``keep`` are held (then only again when their number has doubled, so a lagging table does not cost a
scan per write): memory beyond the table stays bounded by what is in flight, however long the process runs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from processors.runtime.stage import Event


class OwnWrites:
    """Rows this process wrote to one table, newest per key, held until ``table`` shows them."""

    def __init__(self, table: Mapping[str, Event], progress: Callable[[Event], Any] | None = None, keep: int = 10_000, *,
                 merge: Callable[[Event, Event], Event] | None = None, covers: Callable[[Event, Event], bool] | None = None) -> None:
        """Either ``progress`` (a sort key: the further view wins, the table covers a row once it is as far), or ``merge``
        (table's view, own → the view) with ``covers`` (table's view, own → whether the table holds all of own)."""
        if progress is not None:
            merge, covers = _further(progress), _as_far(progress)
        if merge is None or covers is None:
            raise TypeError("OwnWrites needs progress, or merge and covers")
        self._table = table
        self._merge = merge
        self._covers = covers
        self._rows: dict[str, Event] = {}
        self._keep = keep
        self._prune_above = keep

    def get(self, key: str) -> Event | None:
        """The row further along of this process's and the table's (or both merged), or whichever exists."""
        mine, seen = self._rows.get(key), self._table.get(key)
        if mine is None or seen is None:
            return mine if mine is not None else seen
        return self._merge(seen, mine)

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

    def keys(self) -> set[str]:
        return set(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def _prune(self) -> None:
        for key, row in list(self._rows.items()):
            seen = self._table.get(key)
            if seen is not None and self._covers(seen, row):
                del self._rows[key]
        self._prune_above = max(self._keep, 2 * len(self._rows))


def _further(progress: Callable[[Event], Any]) -> Callable[[Event, Event], Event]:
    def further(seen: Event, mine: Event) -> Event:
        return max(mine, seen, key=progress)
    return further


def _as_far(progress: Callable[[Event], Any]) -> Callable[[Event, Event], bool]:
    def as_far(seen: Event, mine: Event) -> bool:
        return progress(seen) >= progress(mine)
    return as_far
