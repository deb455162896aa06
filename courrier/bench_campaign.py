"""``courrier bench campaign``: rows/s and peak memory of ``courrier campaign send`` on generated audiences.

Each size runs the real command as its own process against the real broker (a fresh topic prefix),
so its peak resident memory (``wait4``'s ``ru_maxrss``) is the send's alone. A small run next to the
big one shows what memory costs per row: with a streamed audience and a capped producer queue the
two peaks should be about the same.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import typer

from common import logs
from common.config import Settings, get_settings

# pyarrow, Kafka clients, the topology tool and rich are imported by the functions that use them, so that
# registering this command does not slow down every other `courrier` command.

WRITE_CHUNK = 100_000
COLUMNS = ("recipient", "first_name", "discount", "locale")


@dataclass(frozen=True)
class CampaignFigure:
    """One measured ``campaign send``: rows, the send loop's own time, the process's wall time and peak RSS."""

    rows: int
    fmt: str
    send_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    on_topic: int

    @property
    def rate(self) -> float:
        return self.rows / self.send_seconds if self.send_seconds else 0.0


def command(
    rows: int = typer.Option(1_000_000, "--rows", min=1, max=100_000_000, help="Audience size of the measured run."),
    baseline_rows: int = typer.Option(10_000, "--baseline-rows", min=1, help="Audience size of the small run it is compared with."),
    fmt: str = typer.Option("csv", "--format", help="Audience file format: csv or parquet."),
) -> None:
    """Rows/s and peak RSS of `courrier campaign send` for a small and a large generated audience, on the real broker."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter(f"{fmt!r} is not csv or parquet", param_hint="--format")
    logs.configure("WARNING")
    bench_campaign(get_settings(), rows=rows, baseline_rows=baseline_rows, fmt=fmt)


def bench_campaign(settings: Settings, rows: int, baseline_rows: int, fmt: str) -> list[CampaignFigure]:
    """Measure both sizes and print a table."""
    from rich.console import Console
    from rich.table import Table

    import infra
    from topology.apply import apply as apply_topology
    from topology.apply import remove as remove_topics

    console = Console()
    started_parts = infra.ensure_running(settings)
    bench_settings = settings.model_copy(update={"topic_prefix": f"bench-campaign-{uuid.uuid4().hex[:8]}-"})
    figures: list[CampaignFigure] = []
    try:
        apply_topology(bench_settings)
        with tempfile.TemporaryDirectory(prefix="courrier-bench-campaign-") as folder:
            for size in (baseline_rows, rows):
                path = Path(folder) / f"audience-{size}.{fmt}"
                with console.status(f"writing a {size:,}-row {fmt} audience"):
                    write_audience(path, size, fmt)
                with console.status(f"courrier campaign send: {size:,} rows"):
                    figures.append(_measure(bench_settings, path, size, fmt))
                path.unlink()
    finally:
        remove_topics(bench_settings)
        if started_parts:
            infra.stop(settings, started_parts)
    table = Table(title=f"courrier campaign send ({bench_settings.partitions} partitions, broker {settings.bootstrap_servers})")
    for column in ("rows", "format", "send s", "rows/s", "process s", "peak RSS MB", "on topic"):
        table.add_column(column, justify="right")
    for figure in figures:
        table.add_row(f"{figure.rows:,}", figure.fmt, f"{figure.send_seconds:.1f}", f"{figure.rate:,.0f}", f"{figure.wall_seconds:.1f}",
                      f"{figure.peak_rss_mb:.0f}", f"{figure.on_topic:,}")
    console.print(table)
    return figures


def write_audience(path: Path, rows: int, fmt: str) -> None:
    """A synthetic audience of valid French mobile numbers with two template variables and a locale, written in chunks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def chunk(start: int, stop: int) -> dict[str, list[str]]:
        return {"recipient": [f"+336{i:08d}" for i in range(start, stop)], "first_name": [f"Name{i}" for i in range(start, stop)],
                "discount": [str(10 + i % 40) for i in range(start, stop)],
                "locale": ["fr-FR" if i % 3 else "en-GB" for i in range(start, stop)]}

    if fmt == "parquet":
        schema = pa.schema([(name, pa.string()) for name in COLUMNS])
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, rows, WRITE_CHUNK):
                writer.write_table(pa.table(chunk(start, min(rows, start + WRITE_CHUNK)), schema=schema))
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for start in range(0, rows, WRITE_CHUNK):
            columns = chunk(start, min(rows, start + WRITE_CHUNK))
            out.writerows(zip(*(columns[name] for name in COLUMNS)))


def _measure(settings: Settings, path: Path, rows: int, fmt: str) -> CampaignFigure:
    from courrier.processes import settings_env

    before = _records_on(settings, "send-requested")
    command_line = [sys.executable, "-m", "courrier.entry", "campaign", "send", "--template", "promo_spring", "--audience", str(path),
                    "--group", "bench", "--campaign-id", f"bench-{uuid.uuid4().hex[:8]}", "--variant", "A=50:sms",
                    "--variant", "B=50:rcs_with_sms_fallback", "--json"]
    began = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command_line, env=settings_env(settings), stdout=out, stderr=err)
        _pid, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, in KiB on Linux
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"campaign send exited {process.returncode}: {(stderr.strip() or stdout.strip())[-500:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    return CampaignFigure(rows, fmt, summary["seconds"], wall, usage.ru_maxrss / 1024, _records_on(settings, "send-requested") - before)


def _records_on(settings: Settings, logical: str) -> int:
    """Records in a topic: the sum of its partitions' end offsets (the topic is this bench's own and never compacted)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from common.kafka_clients import consumer_config

    physical = settings.topic(logical)
    consumer = Consumer(consumer_config(settings, f"bench-campaign-{uuid.uuid4()}"))
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                partitions = consumer.list_topics(physical, timeout=10).topics[physical].partitions
                return sum(consumer.get_watermark_offsets(TopicPartition(physical, p), timeout=10)[1] for p in partitions)
            except KafkaException:  # a topic created a moment ago answers NOT_LEADER for a while
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()

