"""A table's local store: a RocksDB directory (``rocksdict``) holding the latest encoded value per key of one topic,
and the offset it has read each partition up to, written together so they always agree.

The store is a cache of its compacted topic (the changelog): deleting it only costs a restore. Contracts:

- Rows are the records' value bytes, kept as written; ``get`` returns them, decoding is the caller's.
- ``apply`` writes a batch of records and the partitions' next offsets in one atomic write. The write-ahead log is
  off: after a crash the store is as of its last memtable flush, rows and offsets alike (one column family, so one
  flush), and the table reads again from those offsets. ``close`` flushes.
- Each row remembers its record's timestamp; ``expire`` drops rows older than the topic's retention, as the broker
  drops their segments (a row stays at least ``retention_ms`` after its last write, as on the broker).
- A directory is held by one ``RowStore`` at a time (an exclusive ``flock``): another table of the same topic, in
  this process or another, takes the next slot (``<name>-0``, ``<name>-1``…), so instances never share a store.
- A store that fails to open is wiped and created again (one log line); whether its content is trustworthy
  (format, topic id, offsets within the partitions' range) is the table's check, which calls ``reset``.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, Rdict, WriteBatch, WriteBufferManager, WriteOptions

from common.errors import CourrierError

log = logging.getLogger(__name__)

FORMAT = b"1"
_ROW, _BY_TIME, _META = b"r", b"t", b"m"
_FORMAT_KEY, _TOPIC_ID_KEY, _COUNT_KEY, _POSITION = b"mformat", b"mtopic_id", b"mcount", b"mpos:"
_TS = struct.Struct(">q")  # big-endian, so the by-time index iterates oldest first
_PAGE = 10_000  # keys read per iterator pass: an iteration holds no snapshot longer than one page
# One memory budget for every store in the process, whatever the tables and their partitions: the block cache holds
# the data blocks read, the files' index and bloom filter partitions (otherwise each open file keeps its whole index and
# filter outside any bound: RSS peaked at 191 MB loading 10 million rows, against 129 MB so) and, through the write
# buffer manager, is charged for every store's memtables (twelve co-partitioned stores would otherwise hold up to
# 12 × 2 × 8 MB). Partitioned, so a lookup reads the few kilobytes of index and filter it needs: whole filter blocks
# in the cache made a lookup of 10 million rows take 1.9 ms and the load four times longer; partitioned, 21 µs
# (12.8 µs with unbounded filters). 32 MB with 16 of memtables in it: `courrier bench table --rows 10000000` ready after
# a cold restore at 167 MB RSS (196 MB with 48 and 24), its uncached lookups 49–57 µs against 44–48.
_CACHE_BYTES = 32 * 1024 * 1024
_MEMTABLES_BYTES = 16 * 1024 * 1024
_CACHE = Cache(_CACHE_BYTES)
_MEMTABLES = WriteBufferManager.new_write_buffer_manager_with_cache(_MEMTABLES_BYTES, False, _CACHE)
_MAX_SLOTS = 64


class StoreError(CourrierError):
    """The store cannot be used even after being created again (disk full, directory not writable): the stage stops
    with this one line."""


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(8 * 1024 * 1024)
    options.set_max_write_buffer_number(2)
    options.set_write_buffer_manager(_MEMTABLES)
    options.set_max_open_files(256)
    options.set_keep_log_file_num(2)
    table = BlockBasedOptions()
    table.set_block_cache(_CACHE)
    table.set_index_type(BlockBasedIndexType.two_level_index_search())
    table.set_partition_filters(True)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_top_level_index_and_filter(True)  # the small top level of each file: what every lookup starts from
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)  # the newest files' are read by every lookup
    table.set_bloom_filter(10, False)  # lookups of absent keys (every new key while loading) skip the files
    options.set_block_based_table_factory(table)
    return options


class RowStore:
    """One open store directory; see the module docstring. Not thread-safe for writers: one thread applies."""

    def __init__(self, root: Path, name: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path, self._lock_file = _claim(root, name)
        self.rebuilt_reason: str | None = None
        self.created = not (self.path / "CURRENT").exists()
        self._db = self._open()
        self._write = WriteOptions()
        self._write.disable_wal = True
        self._count = int(self._db.get(_COUNT_KEY) or b"0")

    def _open(self) -> Rdict:
        try:
            return Rdict(str(self.path), _options())
        except Exception as exc:  # a corrupt or half-written store: it is a cache, so start it again
            self.rebuilt_reason = f"could not open ({exc})"
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            self.created = True
            try:
                return Rdict(str(self.path), _options())
            except Exception as again:
                raise StoreError(f"table store {self.path} cannot be created: {again}") from again

    # --- what the store says about itself
    def valid_format(self) -> bool:
        return self._db.get(_FORMAT_KEY) == FORMAT

    def topic_id(self) -> str | None:
        found = self._db.get(_TOPIC_ID_KEY)
        return found.decode() if found is not None else None

    def positions(self) -> dict[int, int]:
        """Next offset to read per partition, as far as this store holds the topic."""
        return {int(k[len(_POSITION):]): int(v) for k, v in self._prefixed(_POSITION)}

    def reset(self, topic_id: str) -> None:
        """Forget every row and offset (the topic is read again from its beginning) and mark the store as ``topic_id``'s."""
        self._db.delete_range(b"\x00", b"\xff")
        self._db[_FORMAT_KEY] = FORMAT
        self._db[_TOPIC_ID_KEY] = topic_id.encode()
        self._db[_COUNT_KEY] = b"0"
        self._count = 0
        self._db.flush()

    # --- rows
    def __len__(self) -> int:
        return self._count

    def get(self, key: bytes) -> bytes | None:
        found = self._db.get(_ROW + key)
        return found[_TS.size:] if found is not None else None

    def keys(self) -> Iterator[bytes]:
        """Every row's key, in key order, read a page at a time (rows written meanwhile may or may not be seen)."""
        for key, _ in self._prefixed(_ROW, values=False):
            yield key[1:]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._prefixed(_ROW):
            yield key[1:], value[_TS.size:]

    def apply(self, records: Iterable[tuple[bytes, bytes | None, int]], positions: dict[int, int]) -> None:
        """Write ``(key, value or None for a tombstone, timestamp ms)`` in order, and the partitions' next offsets, at once."""
        batch = list(records)
        keys = list(dict.fromkeys(_ROW + key for key, _, _ in batch))
        previous = dict(zip(keys, self._db.get(keys))) if keys else {}
        write = WriteBatch(raw_mode=True)
        count = self._count
        for key, value, timestamp in batch:
            row = _ROW + key
            old = previous[row]
            if old is not None:
                write.delete(_BY_TIME + old[:_TS.size] + key)
            if value is None:
                if old is not None:
                    write.delete(row)
                    count -= 1
                previous[row] = None
                continue
            stamp = _TS.pack(timestamp)
            write.put(row, stamp + value)
            write.put(_BY_TIME + stamp + key, b"")
            count += old is None
            previous[row] = stamp
        for partition, offset in positions.items():
            write.put(_POSITION + str(partition).encode(), str(offset).encode())
        write.put(_COUNT_KEY, str(count).encode())
        self._db.write(write, self._write)
        self._count = count

    def expire(self, before_ms: int) -> int:
        """Drop rows last written before ``before_ms`` (epoch ms); how many went."""
        dropped: list[bytes] = []
        for index_key, _ in self._prefixed(_BY_TIME, values=False, upper=_BY_TIME + _TS.pack(before_ms)):
            dropped.append(index_key)
        if not dropped:
            return 0
        write = WriteBatch(raw_mode=True)
        for index_key in dropped:
            write.delete(index_key)
            write.delete(_ROW + index_key[1 + _TS.size:])
        write.put(_COUNT_KEY, str(self._count - len(dropped)).encode())
        self._db.write(write, self._write)
        self._count -= len(dropped)
        return len(dropped)

    def close(self) -> None:
        """Flush (the write-ahead log is off) and release the directory."""
        try:
            self._db.flush()
            self._db.close()
        finally:
            self._lock_file.close()

    def _prefixed(self, prefix: bytes, values: bool = True, upper: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        start, end = prefix, upper if upper is not None else prefix[:-1] + bytes([prefix[-1] + 1])
        while True:
            page: list[tuple[bytes, bytes]] = []
            iterator = self._db.iter()
            iterator.seek(start)
            while iterator.valid() and len(page) < _PAGE:
                key = iterator.key()
                if key >= end:
                    break
                page.append((key, iterator.value() if values else b""))
                iterator.next()
            more = iterator.valid() and iterator.key() < end
            del iterator
            yield from page
            if not more or not page:
                return
            start = page[-1][0] + b"\x00"


def _claim(root: Path, name: str) -> tuple[Path, IO[bytes]]:
    """The first slot directory under ``root`` no other store holds, locked for this one."""
    for slot in range(_MAX_SLOTS):
        path = root / f"{name}-{slot}"
        lock = open(root / f"{name}-{slot}.lock", "ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        path.mkdir(exist_ok=True)
        os.utime(path)
        return path, lock
    raise StoreError(f"every one of {_MAX_SLOTS} table stores under {root} is in use")


def sweep(tables_root: Path, live_dirs: set[str], idle_s: float = 3600.0) -> list[str]:
    """Remove the stores of topics that no longer exist (``live_dirs``: the directory names still wanted) when no
    table holds them and none was opened for ``idle_s``; the names removed. Keeps a shared state dir from filling
    up with the stores of deleted topics (every test's own)."""
    removed: list[str] = []
    if not tables_root.is_dir():
        return removed
    now = time.time()
    for topic_dir in tables_root.iterdir():
        if topic_dir.name in live_dirs or not topic_dir.is_dir():
            continue
        try:
            if now - max(p.stat().st_mtime for p in [topic_dir, *topic_dir.iterdir()]) < idle_s:
                continue
            locks = [open(p, "ab") for p in topic_dir.glob("*.lock")]
            try:
                for lock in locks:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(topic_dir)
                removed.append(topic_dir.name)
            finally:
                for lock in locks:
                    lock.close()
        except OSError:  # held by a running table, or removed by another process meanwhile: leave it
            continue
    return removed
