"""``courrier bench table``: a disk-backed ``TopicTable`` beside today's in-memory dict of decoded rows, same topic, same run.

It fills a topic of its own (``consent``, or ``submissions``: dispatch's ledger, 30 days of a million messages a day
is 30,000,000 rows) with ``rows`` records (one key each), then loads it in fresh
processes, one per measurement, so each RSS is that process's alone: the in-memory dict (what a table was before it
kept its rows on disk: every record decoded into a dict), the disk-backed table from an empty store (a first start,
or a deleted store), the same table restarted on its store, and restarted again after ``rows // 100`` more records
(only those are read). Each prints seconds to ready, records read and RSS; lookups are timed on the loaded table,
uncached and cached. The topics and the stores are removed at the end.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from common import logs
from common.config import Settings, get_settings

LOOKUPS = 20_000


@dataclass(frozen=True)
class TableFigure:
    """One load, in a process of its own."""

    name: str
    rows: int
    records_read: int
    seconds: float
    rss_mb: float
    lookup_us: float = 0.0
    cached_lookup_us: float = 0.0


def _number(i: int) -> str:
    return f"+336{i:08d}"


def _message_id(i: int) -> str:
    return f"msg-{i:012d}"


def _change(i: int) -> dict[str, Any]:
    return {"e164": _number(i), "subscription_group": "promotions", "status": "OPTED_IN" if i % 7 else "OPTED_OUT",
            "basis": "MARKETING", "source": "import", "evidence": f"csv line {i}",
            "changed_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}


def _submission(i: int) -> dict[str, Any]:
    """A message's last ledger record, as dispatch leaves it once the SMSC answered."""
    return {"message_id": _message_id(i), "state": "SUBMITTED", "provider": "smpp:127.0.0.1:2775",
            "provider_message_ids": [f"{i:016x}"], "attempt": 1, "updated_at": datetime.now(timezone.utc)}


@dataclass(frozen=True)
class Rows:
    """A table's rows by index: the key and the value of row ``i``."""

    key: Callable[[int], str]
    value: Callable[[int], dict[str, Any]]


TABLES = {"consent": Rows(lambda i: f"{_number(i)}|promotions", _change), "submissions": Rows(_message_id, _submission)}


def command(
    rows: int = typer.Option(1_000_000, "--rows", min=100, max=50_000_000, help="Rows in the topic (one key each)."),
    with_dict: bool = typer.Option(True, "--dict/--no-dict", help="Load the in-memory dict too (at 10M rows: minutes and GBs)."),
    table: str = typer.Option("consent", "--table", help=f"Whose rows: {' or '.join(TABLES)}."),
) -> None:
    """Restart-to-ready and RSS of a disk-backed table beside the in-memory dict of decoded rows, same topic, same run."""
    logs.configure("WARNING")
    if table not in TABLES:
        raise typer.BadParameter(f"{table!r} is not one of {', '.join(TABLES)}", param_hint="--table")
    bench_table(get_settings(), rows=rows, with_dict=with_dict, table=table)


def bench_table(settings: Settings, rows: int, with_dict: bool = True, table: str = "consent") -> list[TableFigure]:
    """Measure every load (see the module docstring), print a table and the ratios; the figures."""
    from rich.console import Console
    from rich.table import Table

    import infra
    from topology.apply import apply, remove

    console = Console()
    started_parts = infra.ensure_running(settings)
    run = settings.model_copy(update={"topic_prefix": f"bench-table-{uuid.uuid4().hex[:8]}-",
                                      "state_dir": Path(tempfile.mkdtemp(prefix="courrier-bench-table-"))})
    try:
        apply(run)
        console.print(f"writing {rows:,} {table} rows…")
        _fill(run, table, range(rows))
        figures = [_child(run, "dict", table, "in-memory dict (decoded rows)")] if with_dict else []
        figures.append(_child(run, "table", table, "disk table, empty store"))
        figures.append(_child(run, "table", table, "disk table, restart"))
        extra = max(1, rows // 100)
        _fill(run, table, range(rows, rows + extra))
        figures.append(_child(run, "table", table, f"disk table, restart after {extra:,} new"))
    finally:
        remove(run)
        shutil.rmtree(run.state_dir, ignore_errors=True)
        if started_parts:
            infra.stop(settings, started_parts)
    shown = Table(title=f"{table} table of {rows:,} rows, each load in a fresh process (broker {settings.bootstrap_servers})")
    for column in ("load", "rows", "records read", "seconds to ready", "RSS MB", "lookup µs", "cached lookup µs"):
        shown.add_column(column, justify="left" if column == "load" else "right")
    for f in figures:
        shown.add_row(f.name, f"{f.rows:,}", f"{f.records_read:,}", f"{f.seconds:.2f}", f"{f.rss_mb:,.0f}",
                      f"{f.lookup_us:.1f}", f"{f.cached_lookup_us:.1f}")
    console.print(shown)
    if with_dict:
        memory, cold, restart = figures[0], figures[1], figures[2]
        console.print(f"RSS disk table / in-memory dict = {cold.rss_mb / memory.rss_mb:.2f}; restart-to-ready "
                      f"{restart.seconds:.2f}s vs {memory.seconds:.2f}s for the dict ({memory.seconds / max(restart.seconds, 1e-3):.0f}×)")
    return figures


def _fill(settings: Settings, name: str, indexes: range) -> None:
    from confluent_kafka import Producer

    from common.kafka_clients import producer_config
    from processors.runtime.serde import AvroSerde

    serde = AvroSerde(settings.registry_url, settings.topic)
    producer = Producer(producer_config(settings, **{"linger.ms": 50, "queue.buffering.max.messages": 500_000}))
    topic, rows = settings.topic(name), TABLES[name]
    for i in indexes:
        while True:
            try:
                producer.produce(topic, key=rows.key(i), value=serde.encode(name, rows.value(i)))
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("the broker did not take every bench record")


def _child(settings: Settings, mode: str, table: str, name: str) -> TableFigure:
    from courrier.processes import settings_env

    done = subprocess.run([sys.executable, "-m", "courrier.bench_table", mode, table], env=settings_env(settings),
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: the load failed: {done.stderr.strip()[-2000:]}")
    return TableFigure(name=name, **json.loads(done.stdout.strip().splitlines()[-1]))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load_dict(settings: Settings, name: str) -> tuple[dict[str, Any], int]:
    """Every record decoded into a dict, as a table was kept before it had a store: (rows, records read)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from common.kafka_clients import consumer_config
    from processors.runtime.serde import AvroSerde

    serde = AvroSerde(settings.registry_url, settings.topic)
    physical = settings.topic(name)
    consumer = Consumer(consumer_config(settings, f"bench-table-{uuid.uuid4()}"))
    partitions = sorted(consumer.list_topics(physical, timeout=10).topics[physical].partitions)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in partitions}
    consumer.assign([TopicPartition(physical, p, OFFSET_BEGINNING) for p in partitions])
    rows: dict[str, Any] = {}
    read, behind = 0, {p for p, end in ends.items() if end > 0}
    while behind:
        for message in consumer.consume(1000, 1.0):
            if message.error() is None:
                read += 1
                rows[message.key().decode()] = serde.decode(name, message.value())
                if message.offset() + 1 >= ends[message.partition()]:
                    behind.discard(message.partition())
    consumer.close()
    return rows, read


def _measure(mode: str, name: str) -> dict[str, Any]:
    """In the child: load, then time lookups of random keys (each once: uncached) and of one key (cached)."""
    from processors.runtime.table import TopicTable

    settings = get_settings()
    began = time.perf_counter()
    if mode == "dict":
        rows, read = _load_dict(settings, name)
        table: Any = rows
    else:
        table = TopicTable(settings, name)
        table.start(timeout_s=3600)
        read = table.records_read
    seconds = time.perf_counter() - began
    size = len(table)
    keys = [TABLES[name].key(i) for i in random.sample(range(size), min(LOOKUPS, size))]
    began = time.perf_counter()
    for key in keys:
        table.get(key)
    lookup_us = (time.perf_counter() - began) / len(keys) * 1e6
    began = time.perf_counter()
    for _ in keys:
        table.get(keys[0])
    cached_us = (time.perf_counter() - began) / len(keys) * 1e6
    figure = {"rows": size, "records_read": read, "seconds": seconds, "rss_mb": _rss_mb(), "lookup_us": lookup_us,
              "cached_lookup_us": cached_us}
    if mode != "dict":
        table.stop()
    return figure


if __name__ == "__main__":  # a child of bench_table: one load, its figures as one JSON line
    from processors.runtime.heap import limit_arenas

    limit_arenas()  # as `courrier run` does, so the RSS is a stage's
    print(json.dumps(_measure(sys.argv[1], sys.argv[2])))
