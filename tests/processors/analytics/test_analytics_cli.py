"""``courrier report`` and ``courrier export receipts``: --help, and every bad argument refused in one line with exit
code 2 before any broker call."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

# No broker answers here: each refusal below must come before the command tries to reach one.
NO_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "SCHEMA_REGISTRY_URL": "http://127.0.0.1:1", "COURRIER_BROKER_TIMEOUT_S": "1"}


def courrier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **NO_BROKER})


@pytest.mark.parametrize("command", [["report"], ["export"], ["export", "receipts"]])
def test_help(command: list[str]) -> None:
    result = courrier(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout, result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --campaign ID, or --from and --to"),
    (["--campaign", "c", "--from", "2026-12-01"], "not both"),
    (["--from", "2026-12-01"], "give --campaign ID, or --from and --to"),
    (["--from", "yesterday", "--to", "2026-12-01"], "'yesterday' is not an ISO 8601 time"),
    (["--from", "2026-12-01T10:00", "--to", "2026-12-02"], "has no UTC offset"),
    (["--from", "2026-12-02", "--to", "2026-12-01"], "must be after --from"),
])
def test_report_refuses_bad_arguments_in_one_line(args: list[str], message: str) -> None:
    result = courrier("report", *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2026-12-01", "--to", "2026-12-02", "--out", "x", "--format", "csv"], "'csv' is not one of parquet, jsonl"),
    (["--from", "2026-12-02", "--to", "2026-12-01", "--out", "x"], "must be after --from"),
    (["--from", "2026-12-01", "--to", "2026-12-02", "--out", "s3:///prefix"], "is not s3://bucket[/prefix]"),
    (["--from", "2026-12-01", "--to", "2026-12-02"], "Missing option '--out'"),
])
def test_export_refuses_bad_arguments_in_one_line(args: list[str], message: str) -> None:
    result = courrier("export", "receipts", *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
