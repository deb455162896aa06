"""Receipts → a warehouse's files: Parquet (columns from the Avro schema, ``courrier.export_schema``) or JSON lines,
partitioned by the day of ``occurred_at`` (``dt=YYYY-MM-DD/``, Hive style), into a folder or an S3 prefix.

Rows are buffered per day and written ``chunk_rows`` at a time, so memory stays bounded on a long range. File names
are derived from the exported range and a sequence number: exporting the same range again to the same place replaces
its files instead of adding copies.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import UnreachableError
from courrier.export_schema import arrow_schema

Format = Literal["parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("parquet", "jsonl")
CHUNK_ROWS = 100_000


class Sink(Protocol):
    """Where export files go: ``put`` writes one file's bytes at a relative path (``dt=…/name``)."""

    def put(self, relative: str, data: bytes) -> str:
        """Write ``data`` and return the full address written (path or s3:// URL)."""


@dataclass(frozen=True)
class FolderSink:
    """A local folder; each file appears whole (written aside, then renamed)."""

    root: Path

    def put(self, relative: str, data: bytes) -> str:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as scratch:
            scratch.write(data)
        os.replace(scratch.name, target)
        return str(target)


@dataclass(frozen=True)
class S3Sink:
    """A bucket and key prefix on an S3 endpoint, written with boto3's ``put_object``."""

    client: Any
    bucket: str
    prefix: str

    def put(self, relative: str, data: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = str(PurePosixPath(self.prefix, relative)) if self.prefix else relative
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise UnreachableError(f"could not write s3://{self.bucket}/{key}: {exc}") from None
        return f"s3://{self.bucket}/{key}"


def parse_s3(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (bucket, prefix without slashes at its ends); ValueError without a bucket."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{url!r} is not s3://bucket[/prefix]")
    return parts.netloc, parts.path.strip("/")


@dataclass
class ExportReport:
    """What an export wrote: rows per day and every file's address."""

    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    files: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class ReceiptExport:
    """Feed receipts (decoded ``receipt`` values) to ``add``; those with ``occurred_at`` in [since, until) are written
    to ``sink`` by day in ``fmt``; ``close`` writes what is still buffered and returns the report."""

    def __init__(self, sink: Sink, fmt: Format, since: datetime, until: datetime, chunk_rows: int = CHUNK_ROWS) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
        self._sink, self._fmt, self._since, self._until, self._chunk_rows = sink, fmt, since, until, chunk_rows
        self._schema = arrow_schema("Receipt")
        self._buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._sequence: dict[str, int] = defaultdict(int)
        self._stem = f"receipts-{since:%Y%m%dT%H%M%SZ}-{until:%Y%m%dT%H%M%SZ}"
        self.report = ExportReport()

    def add_all(self, receipts: Iterable[dict[str, Any]]) -> ExportReport:
        """``add`` each, then ``close``."""
        for receipt in receipts:
            self.add(receipt)
        return self.close()

    def add(self, receipt: dict[str, Any]) -> None:
        if not self._since <= receipt["occurred_at"] < self._until:
            return
        day = receipt["occurred_at"].strftime("%Y-%m-%d")
        self._buffers[day].append(receipt)
        if len(self._buffers[day]) >= self._chunk_rows:
            self._flush(day)

    def close(self) -> ExportReport:
        for day in sorted(self._buffers):
            self._flush(day)
        return self.report

    def _flush(self, day: str) -> None:
        rows = self._buffers.pop(day, [])
        if not rows:
            return
        name = f"dt={day}/{self._stem}-{self._sequence[day]:05d}.{self._fmt}"
        self._sequence[day] += 1
        data = parquet_bytes(rows, self._schema) if self._fmt == "parquet" else jsonl_bytes(rows)
        self.report.files.append(self._sink.put(name, data))
        self.report.rows[day] += len(rows)


def parquet_bytes(rows: list[dict[str, Any]], schema: pa.Schema) -> bytes:
    """One Parquet file (zstd) of ``rows`` under ``schema``."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer, compression="zstd")
    return buffer.getvalue()


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    """One JSON object per line; times as ISO 8601 with their offset."""
    return "".join(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n" for row in rows).encode()


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
