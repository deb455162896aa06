"""``courrier export receipts``: a time range of the ``receipt`` topic as Parquet or JSON lines, by day, into a folder
or an S3 prefix (the configured S3 endpoint: ``S3_ENDPOINT_URL``, else the local SeaweedFS).

A bad argument ends in one line and exit code 2; an S3 bucket that does not exist or refuses the write, in one line
and exit code 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from common import logs
from common.config import Settings, get_settings

if TYPE_CHECKING:
    from courrier.export import Sink

app = typer.Typer(no_args_is_help=True, help="Export a topic's records to a warehouse's files: Parquet or JSON lines, by day.")


@app.command()
def receipts(
    since: str = typer.Option(..., "--from", help="Receipts that occurred from this time (ISO 8601 with an offset, or a date = "
                              "its midnight UTC)."),
    until: str = typer.Option(..., "--to", help="… up to this time, excluded (same format as --from)."),
    fmt: str = typer.Option("parquet", "--format", help="parquet (columns from schemas/courrier.Receipt.avsc) or jsonl."),
    out: str = typer.Option(..., "--out", help="A folder, or s3://bucket/prefix on the configured S3 endpoint; files go "
                            "under dt=YYYY-MM-DD/ (the day of occurred_at, UTC)."),
    max_records: int = typer.Option(50_000_000, "--max-records", min=1, help="Read at most this many records of the topic."),
    timeout_s: float = typer.Option(3600.0, "--timeout", min=1, help="Stop reading the topic after this many seconds."),
) -> None:
    """Write the receipts whose occurred_at is in [--from, --to) as day-partitioned files; exporting a range again replaces its files."""
    from pathlib import Path

    from courrier.export import FORMATS, FolderSink, ReceiptExport
    from processors.analytics.cli import moment
    from processors.analytics.scan import TopicScan
    from common.kafka_clients import require_broker

    start, end = moment(since, "--from"), moment(until, "--to")
    if end <= start:
        raise typer.BadParameter(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})", param_hint="--to")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    settings = get_settings()
    sink = _s3_sink(settings, out) if out.startswith("s3:") else FolderSink(Path(out))
    require_broker(settings)
    logs.configure("WARNING")
    scan = TopicScan(settings, "receipt", since=start, max_records=max_records, timeout_s=timeout_s)
    report = ReceiptExport(sink, fmt, start, end).add_all(scan)
    days = ", ".join(f"{day} {rows:,}" for day, rows in sorted(report.rows.items())) or "none"
    typer.echo(f"{report.total:,} receipts in {len(report.files)} {fmt} files under {out} (by day: {days}); "
               f"{scan.scanned:,} records read")
    if not scan.complete:
        typer.echo(f"warning: the read stopped at its limit (--max-records {max_records:,} or --timeout {timeout_s:g} s) "
                   "before the end of the topic: the export is partial", err=True)
        raise typer.Exit(1)


def _s3_sink(settings: Settings, url: str) -> Sink:
    """The S3 prefix ``url`` on the configured endpoint, its bucket checked now (one line when it is missing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from courrier.export import S3Sink, parse_s3
    from common.storage import s3_client
    from common.errors import UnreachableError

    try:
        bucket, prefix = parse_s3(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    client = s3_client(settings)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        raise UnreachableError(f"bucket {bucket!r} at {settings.s3_url} cannot be written: "
                               f"{exc.response.get('Error', {}).get('Code', exc)} (create it, or check the S3 credentials)") from None
    except BotoCoreError as exc:
        raise UnreachableError(f"S3 at {settings.s3_url} does not answer ({exc}); run `courrier infra up s3` or set S3_ENDPOINT_URL") from None
    return S3Sink(client, bucket, prefix)
