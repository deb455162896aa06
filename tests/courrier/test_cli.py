"""The command line: --help everywhere, and one-line errors instead of tracebacks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def courrier(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["bench", "chain"], ["infra"], ["infra", "up"], ["infra", "status"],
                                     ["topology"], ["topology", "apply"], ["topology", "check"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = courrier(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--no-such-flag"], "No such option"),
    (["run", "consent", "--batch-size", "zero"], "zero"),
    (["demo", "--count", "-5"], "count"),
    (["nosuchcommand"], "nosuchcommand"),
])
def test_bad_arguments_get_one_line(args: list[str], fragment: str) -> None:
    result = courrier(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_an_unknown_stage_is_named() -> None:
    result = courrier("run", "nosuchstage", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "nosuchstage" in result.stderr and "consent" in result.stderr


def test_an_unreachable_broker_is_one_line_naming_the_address_and_what_to_run() -> None:
    result = courrier("run", "channel", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and "127.0.0.1:1" in line and "courrier infra up" in line
