"""The command line: --help everywhere, and one-line errors instead of tracebacks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def courrier(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["bench", "chain"], ["infra"], ["infra", "up"], ["infra", "status"],
                                     ["config"], ["topology"], ["topology", "apply"], ["topology", "check"], ["topology", "list"],
                                     ["phone"], ["segments"], ["dlr-status"], ["dlq"], ["dlq", "list"], ["dlq", "requeue"], ["dlq", "show"], ["dlq", "purge"], ["replay"],
                                     ["infra", "down"], ["infra", "fetch"]])
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
    result = courrier("run", "channel", env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COURRIER_BROKER_TIMEOUT_S": "1"})
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and "127.0.0.1:1" in line and "courrier infra up" in line


def test_phone_reports_validity_and_facts_as_json() -> None:
    import json

    ok = json.loads(courrier("phone", "+33612345678", "--json").stdout)
    assert ok == {"valid": True, "e164": "+33612345678", "region": "FR", "line_type": "mobile", "sms_capable": True, "reason": None}
    landline = json.loads(courrier("phone", "01 42 68 53 00", "--region", "FR", "--json").stdout)  # real, just not a handset
    assert landline == {"valid": True, "e164": "+33142685300", "region": "FR", "line_type": "fixed_line", "sms_capable": False,
                        "reason": "number_type_cannot_receive_sms"}
    text = courrier("phone", "+1 800 275 2273").stdout
    assert "valid=True" in text and "line_type=toll_free" in text and "sms_capable=False" in text


def test_segments_counts_septets_and_names_ucs2_triggers() -> None:
    import json

    gsm = json.loads(courrier("segments", "Price: 10€ [now]", "--json").stdout)
    assert gsm == {"encoding": "GSM-7", "segments": 1, "characters": 19, "per_segment": 160, "ucs2_triggers": []}
    ucs2 = json.loads(courrier("segments", "Hej 😀" * 20, "--json").stdout)
    assert ucs2["encoding"] == "UCS-2" and ucs2["characters"] == 120 and ucs2["segments"] == 2 and ucs2["ucs2_triggers"] == ["😀"]
    lines = subprocess.run([sys.executable, "-m", "courrier.entry", "segments", "--jsonl", "-"], input='{"text": "a"}\n{"text": "ü€"}\n',
                           capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert [json.loads(line)["characters"] for line in lines] == [1, 3]


def test_dlr_status_normalizes_smpp_words() -> None:
    assert courrier("dlr-status", "DELIVRD").stdout.strip() == "DELIVERED (terminal)"
    assert courrier("dlr-status", "UNDELIV", "--protocol", "smpp").stdout.startswith("UNDELIVERED (terminal")
    unknown = courrier("dlr-status", "BOGUS")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


def test_segments_smart_encoding_adds_the_replaced_text_and_counts_it() -> None:
    import json

    text = "It’s “done” — see you…"
    plain = json.loads(courrier("segments", text, "--json").stdout)
    assert plain["encoding"] == "UCS-2" and "text" not in plain
    smart = json.loads(courrier("segments", text, "--json", "--smart-encoding").stdout)
    assert smart == {"text": "It's \"done\" - see you...", "encoding": "GSM-7", "segments": 1, "characters": 24,
                     "per_segment": 160, "ucs2_triggers": []}
    kept = json.loads(courrier("segments", "It’s 😀", "--json", "--smart-encoding").stdout)
    assert kept["text"] == "It’s 😀" and kept["ucs2_triggers"] == ["’", "😀"]
    lines = subprocess.run([sys.executable, "-m", "courrier.entry", "segments", "--jsonl", "-", "--smart-encoding"],
                           input='{"text": "a\\u2019"}\n', capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert json.loads(lines[0]) == {"text": "a'", "encoding": "GSM-7", "segments": 1, "characters": 2, "per_segment": 160,
                                    "ucs2_triggers": []}


def test_templates_validate(tmp_path) -> None:
    from processors.rules.templates import DEFAULT_DIR

    assert courrier("templates", "validate", str(DEFAULT_DIR)).returncode == 0
    (tmp_path / "bad.toml").write_text('id = "bad"\n[sms]\ndefault = "hi"\n[rcs]\ntext = "hi"\n'
                                       'suggestions = [{ type = "reply", text = "a reply longer than 25 chars" }]', encoding="utf-8")
    result = courrier("templates", "validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["bad.toml: rcs.suggestions[0].text: 28 characters; the limit is 25"]
    assert courrier("templates", "--help").returncode == 0
