"""A table's local store without a broker: rows and offsets written together, counted, expired by age, paged,
never shared between two holders, and a store that fails to open created again."""
from __future__ import annotations

import os
import time
from pathlib import Path

from processors.runtime import store as store_module
from processors.runtime.store import RowStore, sweep


def test_rows_offsets_and_count_are_written_together_and_survive_a_reopen(tmp_path: Path) -> None:
    store = RowStore(tmp_path, "t")
    assert store.created and not store.valid_format()
    store.reset("topic-a")
    store.apply([(b"a", b"1", 1000), (b"b", b"2", 2000), (b"a", b"3", 3000), (b"gone", None, 1)], {0: 5, 1: 7})
    assert (len(store), store.get(b"a"), store.get(b"b"), store.get(b"gone")) == (2, b"3", b"2", None)
    store.apply([(b"b", None, 4000), (b"b", None, 4001)], {0: 7})
    store.close()

    again = RowStore(tmp_path, "t")
    assert again.path == store.path and not again.created and again.valid_format() and again.topic_id() == "topic-a"
    assert again.positions() == {0: 7, 1: 7} and len(again) == 1 and list(again.items()) == [(b"a", b"3")]
    again.close()


def test_rows_older_than_the_retention_go_by_their_last_write(tmp_path: Path) -> None:
    store = RowStore(tmp_path, "t")
    store.reset("x")
    store.apply([(b"old", b"1", 1000), (b"rewritten", b"1", 1000), (b"new", b"1", 9000)], {0: 3})
    store.apply([(b"rewritten", b"2", 8000)], {0: 4})
    assert store.expire(before_ms=5000) == 1
    assert sorted(store.keys()) == [b"new", b"rewritten"] and len(store) == 2
    assert store.expire(before_ms=5000) == 0
    store.close()


def test_keys_are_read_a_page_at_a_time_and_all_of_them_come(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "_PAGE", 7)
    store = RowStore(tmp_path, "t")
    store.reset("x")
    store.apply([(f"k{i:03d}".encode(), b"v", 1) for i in range(50)], {0: 50})
    assert list(store.keys()) == [f"k{i:03d}".encode() for i in range(50)]
    store.close()


def test_two_holders_never_share_a_directory_and_a_released_one_is_taken_back(tmp_path: Path) -> None:
    one, two = RowStore(tmp_path, "t"), RowStore(tmp_path, "t")
    assert one.path != two.path
    first = one.path
    one.close()
    three = RowStore(tmp_path, "t")
    assert three.path == first
    two.close()
    three.close()


def test_a_store_that_fails_to_open_is_created_again(tmp_path: Path) -> None:
    store = RowStore(tmp_path, "t")
    store.reset("x")
    store.apply([(b"a", b"1", 1)], {0: 1})
    store.close()
    for name in store.path.iterdir():
        if name.is_file():
            name.write_bytes(b"not rocksdb")
    again = RowStore(tmp_path, "t")
    assert again.rebuilt_reason is not None and again.created and not again.valid_format() and again.get(b"a") is None
    again.close()


def test_the_stores_of_deleted_topics_go_once_idle_and_unheld(tmp_path: Path) -> None:
    live, idle, held, recent = (RowStore(tmp_path / name, "t") for name in ("live", "idle", "held", "recent"))
    for store in (live, idle, recent):
        store.close()
    past = time.time() - 7200
    for name in ("live", "idle", "held"):
        for path in [tmp_path / name, *(tmp_path / name).iterdir()]:
            os.utime(path, (past, past))
    assert sweep(tmp_path, live_dirs={"live"}) == ["idle"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["held", "live", "recent"]
    held.close()
