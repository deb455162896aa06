"""A compacted topic's rows as this process wrote them, until the topic's table (``runtime.table``) shows them.

A stage that writes rows of a table it also reads (receipt's ``message-state``, dispatch's ``submissions``, status's
rows, consent's ``frequency``) must see its own writes at once: the table shows them only once they have gone round the
broker. Of two views of a row the one further along (``progress``) wins, or they are merged (``merge``, with ``covers``
saying when the table's view holds all of this process's). Own rows are dropped once the table covers them, checked
when more than ``keep`` are held (then only again when their number has doubled, so a lagging table does not cost a
scan per write): memory beyond the table stays bounded by what is in flight, however long the process runs.

A row remembered with the bytes it is written as (``raw``), against a table that answers its rows' bytes (``raw_of``,
``TopicTable.raw``), is known to be in the table when the table holds those very bytes: no decode, where comparing
progress decodes the table's row (a tenth of the receipt stage's CPU went to those decodes).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from processors.runtime.stage import Event


@runtime_checkable
class EncodedRows(Protocol):
    """A table that answers a row's bytes as its topic holds them and encodes a row the same way (``TopicTable``)."""

    def raw(self, key: str) -> bytes | None: ...

    def encode(self, row: Event) -> bytes: ...


class OwnWrites:
    """Rows this process wrote to one table, newest per key, held until ``table`` shows them."""

    def __init__(self, table: Mapping[str, Event], progress: Callable[[Event], Any] | None = None, keep: int = 10_000, *,
                 merge: Callable[[Event, Event], Event] | None = None, covers: Callable[[Event, Event], bool] | None = None,
                 raw_of: Callable[[str], bytes | None] | None = None) -> None:
        """Either ``progress`` (a sort key: the further view wins, the table covers a row once it is as far), or ``merge``
        (table's view, own → the view) with ``covers`` (table's view, own → whether the table holds all of own).
        ``raw_of(key)``: the table's bytes for ``key`` (see the module docstring)."""
        if progress is not None:
            merge, covers = _further(progress), _as_far(progress)
        if merge is None or covers is None:
            raise TypeError("OwnWrites needs progress, or merge and covers")
        self._table = table
        self._merge = merge
        self._covers = covers
        self._rows: dict[str, Event] = {}
        self._raw: dict[str, bytes] = {}  # the bytes of own rows remembered with theirs
        self._raw_of = raw_of
        self._keep = keep
        self._prune_above = keep

    def get(self, key: str) -> Event | None:
        """The row further along of this process's and the table's (or both merged), or whichever exists."""
        mine = self._rows.get(key)
        if mine is not None:
            shown = self._shown(key)
            if shown is not None:
                if shown:
                    self._drop(key, mine)
                return mine
        seen = self._table.get(key)
        if mine is None or seen is None:
            return mine if mine is not None else seen
        return self._merge(seen, mine)

    def mine(self, key: str) -> Event | None:
        """This process's own row for ``key`` not yet dropped, if any."""
        return self._rows.get(key)

    def remember(self, key: str, row: Event, raw: bytes | None = None) -> None:
        """A row written (or about to be committed), as ``raw`` bytes when known: what ``get`` answers from now on,
        unless the table is further."""
        self._rows[key] = row
        if raw is not None and self._raw_of is not None:
            self._raw[key] = raw
        else:
            self._raw.pop(key, None)
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

    def _shown(self, key: str) -> bool | None:
        """Whether the table holds the very bytes this process wrote last for ``key`` (False: it holds no row for it);
        None when that takes decoding: the bytes are unknown, or the table holds others."""
        raw = self._raw.get(key)
        if raw is None or self._raw_of is None:
            return None
        held = self._raw_of(key)
        return False if held is None else (True if held == raw else None)

    def _drop(self, key: str, row: Event) -> None:
        # Only that row: another thread sharing this table's writes (dispatch's lanes) may have remembered a newer one.
        if self._rows.get(key) is row:
            self._rows.pop(key, None)
            self._raw.pop(key, None)

    def _prune(self) -> None:
        for key, row in list(self._rows.items()):
            shown = self._shown(key)
            if shown is not None:
                if shown:
                    self._drop(key, row)
                continue
            seen = self._table.get(key)
            if seen is not None and self._covers(seen, row):
                self._drop(key, row)
        self._prune_above = max(self._keep, 2 * len(self._rows))


def _further(progress: Callable[[Event], Any]) -> Callable[[Event, Event], Event]:
    def further(seen: Event, mine: Event) -> Event:
        return max(mine, seen, key=progress)
    return further


def _as_far(progress: Callable[[Event], Any]) -> Callable[[Event, Event], bool]:
    def as_far(seen: Event, mine: Event) -> bool:
        return progress(seen) >= progress(mine)
    return as_far
