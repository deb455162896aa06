"""Audience files, read as a stream of rows in constant memory: CSV (the csv module) or Parquet (pyarrow, batch by batch).

A row is a dict of column → text (None for an absent value). The ``recipient`` column is required;
``region``, ``locale`` and ``time_zone`` are optional; every other column is a template variable.
Opening checks the header, so a wrong file fails before anything is sent.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq

from processors.campaigns.logic import RECIPIENT

PARQUET_MAGIC = b"PAR1"
PARQUET_BATCH_ROWS = 10_000
# The delimiters a spreadsheet export may use (`;` is Excel's in much of Europe).
CSV_DELIMITERS = ",;\t|"


class AudienceError(ValueError):
    """An audience that cannot be read: the message names the file and the problem (and the line, once reading)."""


class Audience(Protocol):
    """One opened audience file: its columns and rows, and how far reading has got (``position`` out of ``size`` ``unit``)."""

    format: str
    columns: tuple[str, ...]
    size: int | None
    unit: str
    malformed_rows: int

    def rows(self) -> Iterator[dict[str, str | None]]: ...

    @property
    def position(self) -> int: ...

    def close(self) -> None: ...


def open_audience(path: Path) -> Audience:
    """The audience in ``path``: Parquet when the file starts with Parquet's magic bytes, CSV otherwise."""
    if not path.is_file():
        raise AudienceError(f"no audience file at {path}")
    try:
        with path.open("rb") as probe:
            magic = probe.read(len(PARQUET_MAGIC))
    except OSError as exc:
        raise AudienceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    audience: Audience = ParquetAudience(path) if magic == PARQUET_MAGIC else CsvAudience(path)
    _check_columns(path, audience.columns)
    return audience


def _check_columns(path: Path, columns: tuple[str, ...]) -> None:
    if RECIPIENT not in columns:
        shown = ", ".join(columns[:10]) or "none"
        raise AudienceError(f"{path} has no {RECIPIENT!r} column (columns: {shown})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise AudienceError(f"{path} has the column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)} more than once")


class CsvAudience:
    """A UTF-8 CSV file (a BOM is fine) with a header line; the delimiter is the one of , ; tab and | the header uses most."""

    format = "csv"
    unit = "bytes"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._binary = path.open("rb")
        self.size = path.stat().st_size
        self.malformed_rows = 0
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        try:
            first_line = self._text.readline()
            self._text.seek(0)
            self._reader = csv.reader(self._text, delimiter=_delimiter(first_line))
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            self.close()
            raise AudienceError(f"{path} is not a readable UTF-8 CSV file ({exc})") from exc
        if header is None:
            self.close()
            raise AudienceError(f"{path} is empty: a CSV audience needs a header line naming a {RECIPIENT!r} column")
        self.columns = tuple(name.strip() for name in header)

    @property
    def position(self) -> int:
        # The byte offset of the buffered reader under the text wrapper: ahead by at most one read chunk.
        return self._binary.tell() if not self._binary.closed else self.size or 0

    def rows(self) -> Iterator[dict[str, str | None]]:
        """Every data row; a row with a wrong number of cells is counted in ``malformed_rows`` and read as far as it goes."""
        width = len(self.columns)
        try:
            for cells in self._reader:
                if not cells:  # a blank line
                    continue
                if len(cells) != width:
                    self.malformed_rows += 1
                    cells = (cells + [None] * width)[:width]  # type: ignore[list-item]
                yield dict(zip(self.columns, cells))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise AudienceError(f"{self._path} line {self._reader.line_num}: {exc}") from exc

    def close(self) -> None:
        self._binary.close()


class ParquetAudience:
    """A Parquet file read one record batch at a time; values that are not text are written as text."""

    format = "parquet"
    unit = "rows"

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError… for one cause: not a Parquet file it can read
            raise AudienceError(f"{path} is not a readable Parquet file ({exc})") from exc
        self.columns = tuple(self._file.schema_arrow.names)
        self.size = self._file.metadata.num_rows
        self.malformed_rows = 0
        self._read = 0

    @property
    def position(self) -> int:
        return self._read

    def rows(self) -> Iterator[dict[str, str | None]]:
        """Every row, in file order."""
        try:
            for batch in self._file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                columns = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
                for index in range(batch.num_rows):
                    self._read += 1
                    yield {name: _cell_text(values[index]) for name, values in columns.items()}
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise AudienceError(f"{self._path} row {self._read + 1}: {exc}") from exc

    def close(self) -> None:
        self._file.close()


def _delimiter(header_line: str) -> str:
    """The delimiter of a header line (column names rarely contain one); a one-column file gets the comma."""
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _cell_text(value: Any) -> str | None:
    """A Parquet value as the text a template gets: 20.0 → "20", a timestamp in ISO 8601, bytes as UTF-8."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
