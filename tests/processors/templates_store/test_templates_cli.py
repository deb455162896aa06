"""`courrier templates`: every store command has help, and bad arguments are refused in one line before any broker call."""
from __future__ import annotations

import subprocess
import sys

import pytest


def courrier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", "templates", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["seed", "push", "list", "show", "diff", "publish"])
def test_every_store_command_has_help(command: str) -> None:
    result = courrier(command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout, result.stderr


@pytest.mark.parametrize("args", [["push", "/no/such/file.toml"], ["publish", "otp", "0"], ["diff", "otp", "1"],
                                  ["show", "otp", "--version", "x"]])
def test_bad_arguments_are_refused_before_the_broker(args: list[str]) -> None:
    result = courrier(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "Invalid value" in result.stderr or "Missing argument" in result.stderr
