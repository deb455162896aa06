"""Pure bookkeeping of held records: what is due, and up to where each partition may be committed."""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Generic, Iterable, TypeVar

T = TypeVar("T")
Partition = tuple[str, int]


@dataclass(order=True)
class _Held(Generic[T]):
    due_ms: int
    seq: int
    partition: Partition = field(compare=False)
    offset: int = field(compare=False)
    item: T = field(compare=False)


class PendingRecords(Generic[T]):
    """Records held until due. A partition's commit point is its lowest offset still held, so a crash re-reads only what was not released."""

    def __init__(self) -> None:
        self._heap: list[_Held[T]] = []
        self._seq = itertools.count()
        self._held: dict[Partition, set[int]] = {}
        self._next: dict[Partition, int] = {}

    def __len__(self) -> int:
        return sum(len(offsets) for offsets in self._held.values())

    def hold(self, partition: Partition, offset: int, due_ms: int, item: T) -> None:
        """Hold a record until ``due_ms``; a record held already (read again after an aborted batch) is held once."""
        if offset in self._held.get(partition, ()):
            return
        heapq.heappush(self._heap, _Held(due_ms, next(self._seq), partition, offset, item))
        self._held.setdefault(partition, set()).add(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def skip(self, partition: Partition, offset: int) -> None:
        """Account for a record that needs no holding (handled at once)."""
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def due(self, now_ms: int) -> list[tuple[Partition, int, T]]:
        """Take every held record whose time has come, earliest first (they stay uncommitted until ``released``)."""
        out: list[tuple[Partition, int, T]] = []
        while self._heap and self._heap[0].due_ms <= now_ms:
            held = heapq.heappop(self._heap)
            if held.offset in self._held.get(held.partition, ()):
                out.append((held.partition, held.offset, held.item))
        return out

    def released(self, partition: Partition, offset: int) -> None:
        """The record is safely on its target topic."""
        self._held.get(partition, set()).discard(offset)

    def retake(self, partition: Partition, offset: int, due_ms: int, item: T) -> None:
        """Hold again a record whose release failed, so the next ``due`` offers it again; forgotten if its partition was dropped."""
        if offset in self._held.get(partition, ()):
            heapq.heappush(self._heap, _Held(due_ms, next(self._seq), partition, offset, item))

    def held_in(self, topic: str) -> int:
        """How many records of ``topic`` are held."""
        return sum(len(offsets) for (held_topic, _p), offsets in self._held.items() if held_topic == topic)

    def next_due_ms(self) -> int | None:
        while self._heap and self._heap[0].offset not in self._held.get(self._heap[0].partition, ()):
            heapq.heappop(self._heap)
        return self._heap[0].due_ms if self._heap else None

    def commit_points(self, released: Iterable[tuple[Partition, int]] = ()) -> dict[Partition, int]:
        """Offset to commit per partition: the lowest still held, else one past the last seen; ``released`` records
        (leaving in the batch being committed) count as no longer held."""
        leaving: dict[Partition, set[int]] = {}
        for partition, offset in released:
            leaving.setdefault(partition, set()).add(offset)
        points = {}
        for p, nxt in self._next.items():
            held = self._held.get(p, set()) - leaving.get(p, set())
            points[p] = min(held) if held else nxt
        return points

    def drop(self, partitions: list[Partition]) -> None:
        """Forget revoked partitions: their next owner re-reads from the committed offset."""
        for p in partitions:
            self._held.pop(p, None)
            self._next.pop(p, None)
        self._heap = [h for h in self._heap if h.partition not in partitions]
        heapq.heapify(self._heap)
