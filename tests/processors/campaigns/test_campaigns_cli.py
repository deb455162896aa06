"""``courrier campaign``: --help everywhere, and every bad input refused in one line with exit code 2: before any broker call,
except a template, which is checked in the template store."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import Settings

# No broker answers here: each refusal below must come before the command tries to reach one.
NO_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "SCHEMA_REGISTRY_URL": "http://127.0.0.1:1", "COURRIER_BROKER_TIMEOUT_S": "1"}


def courrier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **NO_BROKER})


@pytest.mark.parametrize("command", [["campaign"], ["campaign", "send"], ["campaign", "cancel"], ["campaign", "status"],
                                     ["bench", "campaign"]])
def test_every_campaign_command_has_help(command: list[str]) -> None:
    result = courrier(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.fixture
def audience(tmp_path: Path) -> Path:
    path = tmp_path / "audience.csv"
    path.write_text("recipient,first_name,discount\n+33612345678,Ava,20\n")
    return path


@pytest.mark.parametrize("extra, fragment", [
    (["--audience", "/nonexistent/audience.csv"], "no audience file at /nonexistent/audience.csv"),
    (["--variant", "A=0"], "weight must be a positive number"),
    (["--variant", "A=one"], "weight 'one' is not a number"),
    (["--variant", "A=1", "--variant", "A=2"], "A given twice"),
    (["--variant", "A=1:fax"], "'fax' is neither a policy"),
    (["--policy", "carrier_pigeon"], "'carrier_pigeon' is not one of rcs_with_sms_fallback, rcs_only, sms, mms"),
    (["--lane", "urgent"], "'urgent' is not one of marketing, transactional"),
    (["--send-at", "tomorrow"], "'tomorrow' is not an ISO 8601 time"),
    (["--send-at", "2030-01-01T09:00:00"], "has no UTC offset"),
    (["--validity", "0"], "must be 1 to 604800 seconds"),
    (["--sms-fallback-after", "60"], "applies to rcs_with_sms_fallback only"),
    (["--sms-fallback-after", "0", "--policy", "rcs_with_sms_fallback"], "must be 1 to 604800 seconds"),
    (["--region", "XX"], "'XX' is not a country code"),
    (["--rate", "0"], "must be a positive number of rows per second"),
    (["--campaign-id", "has space"], "must be 1 to 128 letters"),
])
def test_a_bad_argument_is_one_line_naming_the_problem(audience: Path, extra: list[str], fragment: str) -> None:
    args = {"--template": "promo_spring", "--audience": str(audience), "--group": "promotions"}
    for flag, value in zip(extra[::2], extra[1::2]):
        args.pop(flag, None)
    base = [item for pair in args.items() for item in pair]
    result = courrier("campaign", "send", *base, *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("extra, fragment", [
    (["--template", "no_such_template"], "no template 'no_such_template' in the template store"),
    (["--template", "../promo_spring"], "no template '../promo_spring'"),
    (["--template", "otp"], "template 'otp' needs code, and the audience has no such column"),
    (["--variant", "A=1:template=nope"], "no template 'nope'"),
])
def test_a_template_the_store_lacks_is_one_line(topic_settings: Settings, audience: Path, extra: list[str], fragment: str) -> None:
    """Templates are checked against the template store (seeded with the bundled ones, as render's is), so this needs it."""
    args = {"--template": "promo_spring", "--audience": str(audience), "--group": "promotions"}
    for flag in extra[::2]:
        args.pop(flag, None)
    base = [item for pair in args.items() for item in pair]
    result = subprocess.run([sys.executable, "-m", "courrier.entry", "campaign", "send", *base, *extra], capture_output=True,
                            text=True, timeout=120, env={**os.environ, **topic_settings.as_env()})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_an_audience_without_a_recipient_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audience.csv"
    path.write_text("phone,first_name,discount\n+33612345678,Ava,20\n")
    result = courrier("campaign", "send", "--template", "promo_spring", "--audience", str(path), "--group", "promotions")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "has no 'recipient' column (columns: phone, first_name, discount)" in result.stderr


def test_a_marketing_campaign_without_a_group_is_refused(audience: Path) -> None:
    result = courrier("campaign", "send", "--template", "promo_spring", "--audience", str(audience))
    assert result.returncode == 2 and "needs --group" in result.stderr and result.stderr.count("\n") == 1


def test_an_unreachable_broker_is_one_line_after_the_checks_pass(audience: Path) -> None:
    result = courrier("campaign", "send", "--template", "promo_spring", "--audience", str(audience), "--group", "promotions")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "127.0.0.1:1" in result.stderr and "courrier infra up" in result.stderr
