"""``courrier bench table`` at a tiny size: every load is measured in its own process, a restart reads only the new
records, and the bench leaves no topic behind."""
from __future__ import annotations

from confluent_kafka.admin import AdminClient

from common.config import Settings
from courrier.bench_table import bench_table


def _bench_topics(settings: Settings) -> set[str]:
    topics = AdminClient({"bootstrap.servers": settings.bootstrap_servers}).list_topics(timeout=10).topics
    return {name for name in topics if name.startswith("bench-table-")}


def test_the_bench_measures_each_load_and_removes_its_topics(real_parts: Settings) -> None:
    before = _bench_topics(real_parts)
    figures = bench_table(real_parts, rows=300)
    assert [(f.rows, f.records_read) for f in figures] == [(300, 300), (300, 300), (300, 0), (303, 3)]
    assert all(f.rss_mb > 0 and f.seconds > 0 for f in figures)
    assert _bench_topics(real_parts) <= before


def test_without_the_dict_only_the_disk_table_is_loaded(real_parts: Settings) -> None:
    figures = bench_table(real_parts, rows=200, with_dict=False)
    assert [(f.name, f.records_read) for f in figures] == [("disk table, empty store", 200), ("disk table, restart", 0),
                                                            ("disk table, restart after 2 new", 2)]


def test_dispatch_s_ledger_rows_can_be_measured_too(real_parts: Settings) -> None:
    figures = bench_table(real_parts, rows=200, with_dict=False, table="submissions")
    assert [(f.rows, f.records_read) for f in figures] == [(200, 200), (200, 0), (202, 2)]
    assert all(f.rss_mb > 0 and f.lookup_us > 0 for f in figures)
