"""``courrier topology``: the list table, the problem lines, and one-line errors when a part does not answer."""
from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from topology.check import Incompatibility
from topology.cli import app, problem_lines, retention
from topology.topics import TOPICS


def test_retention_reads_as_a_person_would_say_it() -> None:
    assert [retention(ms) for ms in (-1, 7 * 86_400_000, 6 * 3_600_000, 1500)] == ["forever", "7 d", "6 h", "1500 ms"]


def test_one_line_per_subject_and_problem_with_its_versions() -> None:
    problems = [Incompatibility("a-value", 1, "A.x: added without a default"), Incompatibility("a-value", 3, "A.x: added without a default"),
                Incompatibility("b-value", 2, "B.s: symbol Z removed without an enum default")]
    assert problem_lines(problems) == ["a-value: A.x: added without a default (against versions 1, 3)",
                                       "b-value: B.s: symbol Z removed without an enum default (against version 2)"]


def test_list_shows_every_declared_topic() -> None:
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "400", "COURRIER_TOPIC_PREFIX": ""})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == [t.name for t in TOPICS]
    consent = next(row for row in rows if row.split("│")[1].strip() == "consent")
    assert [cell.strip() for cell in consent.split("│")[1:-1]] == [
        "consent", "consent", "E.164|subscription group", "ConsentChange", "6", "forever", "compact", "keyword handler, API, imports, dispatch (a provider's unsubscribed refusal)", "consent"]


def courrier(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COURRIER_CONFIG": "/nonexistent.toml", **env})


def test_an_unreachable_registry_is_one_line_naming_it() -> None:
    result = courrier("topology", "check", SCHEMA_REGISTRY_URL="http://127.0.0.1:9/apis/ccompat/v7")
    assert result.returncode == 1
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert "http://127.0.0.1:9/apis/ccompat/v7" in result.stderr and "courrier infra up" in result.stderr


def test_an_unreachable_broker_is_one_line_naming_it() -> None:
    result = courrier("topology", "apply", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", COURRIER_BROKER_TIMEOUT_S="1")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "127.0.0.1:9" in result.stderr and "courrier infra up" in result.stderr
