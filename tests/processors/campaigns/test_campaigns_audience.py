"""Audience files: CSV and Parquet rows as text, header problems refused at open, and reading in constant memory."""
from __future__ import annotations

import csv
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from processors.campaigns.audience import AudienceError, open_audience


def rows_of(path: Path) -> list[dict[str, str | None]]:
    audience = open_audience(path)
    try:
        return list(audience.rows())
    finally:
        audience.close()


def test_a_csv_is_read_with_its_header_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffrecipient,first_name,discount\n+33612345678,Ava,20\n\n\"+33 6 12 34 56 79\",\"Bé, Jr\",\n".encode())
    audience = open_audience(path)
    assert (audience.format, audience.columns, audience.unit, audience.size) == ("csv", ("recipient", "first_name", "discount"),
                                                                                 "bytes", path.stat().st_size)
    assert list(audience.rows()) == [{"recipient": "+33612345678", "first_name": "Ava", "discount": "20"},
                                     {"recipient": "+33 6 12 34 56 79", "first_name": "Bé, Jr", "discount": ""}]
    assert audience.position == audience.size and audience.malformed_rows == 0
    audience.close()


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_spreadsheet_export_delimiter_is_recognised_from_the_header(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "a.csv"
    path.write_text(delimiter.join(["recipient", "first_name"]) + "\n" + delimiter.join(["+33612345678", "Ava, B"]) + "\n")
    assert rows_of(path) == [{"recipient": "+33612345678", "first_name": "Ava, B"}]


def test_rows_with_too_few_or_too_many_cells_are_counted_and_read_as_far_as_they_go(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("recipient,first_name\n+33612345678\n+33612345679,Bob,extra\n+33612345670,Cy\n")
    audience = open_audience(path)
    assert list(audience.rows()) == [{"recipient": "+33612345678", "first_name": None},
                                     {"recipient": "+33612345679", "first_name": "Bob"},
                                     {"recipient": "+33612345670", "first_name": "Cy"}]
    assert audience.malformed_rows == 2
    audience.close()


def test_a_parquet_file_is_read_batch_by_batch_with_values_as_text(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    table = pa.table({
        "recipient": ["+33612345678", "+33612345679", None],
        "discount": pa.array([20.0, 12.5, None]),
        "points": pa.array([3, None, 7], pa.int64()),
        "vip": [True, False, None],
        "since": [datetime(2024, 1, 2, 3, 4, tzinfo=timezone.utc), None, None],
    })
    pq.write_table(table, path)
    audience = open_audience(path)
    assert (audience.format, audience.size, audience.unit) == ("parquet", 3, "rows")
    assert list(audience.rows()) == [
        {"recipient": "+33612345678", "discount": "20", "points": "3", "vip": "true", "since": "2024-01-02T03:04:00+00:00"},
        {"recipient": "+33612345679", "discount": "12.5", "points": None, "vip": "false", "since": None},
        {"recipient": None, "discount": None, "points": "7", "vip": None, "since": None},
    ]
    assert audience.position == 3
    audience.close()


@pytest.mark.parametrize("name, content, fragment", [
    ("none.csv", None, "no audience file at"),
    ("empty.csv", b"", "is empty"),
    ("no_recipient.csv", b"phone,first_name\n+33612345678,Ava\n", "no 'recipient' column (columns: phone, first_name)"),
    ("twice.csv", b"recipient,name,name\n", "column name more than once"),
    ("latin1.csv", "recipient,prénom\n".encode("latin-1"), "not a readable UTF-8 CSV"),
    ("broken.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
])
def test_an_audience_that_cannot_be_used_is_refused_at_open_naming_why(tmp_path: Path, name: str, content: bytes | None,
                                                                      fragment: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudienceError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        open_audience(path)


def test_a_parquet_file_without_a_recipient_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"phone": ["+33612345678"]}), path)
    with pytest.raises(AudienceError, match="no 'recipient' column"):
        open_audience(path)


def test_bad_bytes_in_the_middle_of_a_csv_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    body = "".join(f"+3361234{n:04d},Ava\n" for n in range(5000)).encode()
    path.write_bytes(b"recipient,first_name\n" + body + b"+33612345678,\xff\xfe\n")
    audience = open_audience(path)
    with pytest.raises(AudienceError, match=r"a\.csv line"):
        list(audience.rows())
    audience.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_reading_keeps_memory_flat_whatever_the_number_of_rows(tmp_path: Path, fmt: str) -> None:
    """Python's own allocations while reading 200,000 rows stay under 4 MB: rows are streamed, never collected."""
    path = tmp_path / f"big.{fmt}"
    count = 200_000
    recipients = [f"+336{n:08d}" for n in range(count)]
    if fmt == "csv":
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["recipient", "first_name"])
            out.writerows((r, "Ava") for r in recipients)
    else:
        pq.write_table(pa.table({"recipient": recipients, "first_name": ["Ava"] * count}), path, row_group_size=50_000)
    del recipients
    audience = open_audience(path)
    tracemalloc.start()
    try:
        read = sum(1 for _ in audience.rows())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        audience.close()
    assert read == count
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
