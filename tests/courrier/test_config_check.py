"""``courrier config check`` and the strict configuration file: every setting with its source, secrets masked, a bad
file named with its key and what is expected; secrets from the environment or their ``*_FILE``, never built in."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ConfigError, SecretMissing, Settings, load_settings
from courrier.config_report import effective


def check(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``courrier config check`` in ``tmp_path``, with no COURRIER_* setting but those in ``env``."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("COURRIER_")}
    return subprocess.run([sys.executable, "-m", "courrier.entry", "config", "check", *args], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={**clean, "COURRIER_STATE_DIR": str(tmp_path / "state"), **(env or {})})


def settings_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The report's settings lines (after the file line and a blank, before the providers)."""
    return done.stdout.split("\n\nproviders ", 1)[0].splitlines()[2:]


def write(tmp_path: Path, text: str, name: str = "courrier.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_file_shows_every_setting_with_its_value_and_source(tmp_path: Path) -> None:
    write(tmp_path, 'partitions = 4\nlog_level = "DEBUG"\n')
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("configuration file: courrier.toml (read)")
    report = {row.name: (row.value, row.source) for row in effective(Settings(), Path("none.toml"))}
    settings_part, deployment_part = done.stdout.split("\n\nproviders ", 1)
    assert len(settings_part.splitlines()) == 2 + len(report)  # every setting, once
    assert deployment_part.startswith("(COURRIER_DISPATCH_PROVIDERS"), "then the providers, from the older settings here"
    shown = {line.split()[0]: line for line in settings_part.splitlines()[2:]}
    assert shown["partitions"].split()[1:] == ["4", "file"] and shown["log_level"].split()[1:] == ["DEBUG", "file"]
    assert shown["kafka_port"].split()[1:] == ["19092", "default"]


def test_the_environment_overrides_the_file_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "partitions = 4\n", "other.toml")
    done = check(tmp_path, str(path), env={"COURRIER_PARTITIONS": "9"})
    shown = {line.split()[0]: line.split()[1:] for line in settings_lines(done)}
    assert done.returncode == 0 and shown["partitions"] == ["9", "env", "COURRIER_PARTITIONS"]


def test_an_unknown_key_is_an_error_naming_the_file_the_key_and_a_guess(tmp_path: Path) -> None:
    write(tmp_path, "partitons = 4\n")
    done = check(tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("courrier: courrier.toml: partitons: unknown key (did you mean partitions?)")


def test_a_wrong_type_names_the_file_the_key_and_what_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, 'partitions = "six"\nbroker_timeout_s = -1\n')
    done = check(tmp_path, str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"courrier: {path}: broker_timeout_s = -1: input should be greater than 0",
        f"{path}: partitions = 'six': input should be a valid integer, unable to parse string as an integer"]


def test_a_bad_environment_value_is_named_as_the_environment(tmp_path: Path) -> None:
    done = check(tmp_path, env={"COURRIER_PARTITIONS": "many"})
    assert done.returncode == 1 and done.stderr.startswith("courrier: environment: partitions = 'many': input should be a valid integer")


def test_secrets_are_masked_and_never_printed(tmp_path: Path) -> None:
    token_file = write(tmp_path, "token-from-a-file\n", "token")
    done = check(tmp_path, env={"COURRIER_WEBHOOK_SECRET": "webhook-value-0123456789", "COURRIER_SIM_TOKEN_FILE": str(token_file)})
    assert done.returncode == 0, done.stderr
    assert "webhook-value-0123456789" not in done.stdout and "token-from-a-file" not in done.stdout
    shown = {line.split()[0]: line.split()[1:] for line in settings_lines(done)}
    assert shown["webhook_secret"] == ["********", "env", "COURRIER_WEBHOOK_SECRET"]
    assert shown["sim_token"][0] == "********" and str(token_file) in " ".join(shown["sim_token"])
    assert shown["smpp_password"] == ["********", "default", "(the", "local", "part's", "own)"]  # the local SMSC's, on loopback
    settings = Settings(webhook_secret="webhook-value-0123456789")
    assert "webhook-value-0123456789" not in repr(settings) and "webhook-value-0123456789" not in str(settings)


def test_a_missing_file_given_by_name_is_an_error(tmp_path: Path) -> None:
    done = check(tmp_path, "absent.toml")
    assert (done.returncode, done.stderr) == (1, "courrier: absent.toml: no such file\n")


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'smpp_password = "hunter2"\n')
    with pytest.raises(ConfigError, match="smpp_password: a secret is never written in the configuration file; set COURRIER_SMPP_PASSWORD"):
        load_settings(path)


def test_a_secret_file_gives_the_secret_and_a_missing_one_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COURRIER_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("COURRIER_WEBHOOK_SECRET_FILE", str(write(tmp_path, "from-the-file\n", "secret")))
    assert load_settings(tmp_path / "none.toml").secret("webhook_secret") == "from-the-file"
    monkeypatch.setenv("COURRIER_WEBHOOK_SECRET_FILE", str(tmp_path / "gone"))
    with pytest.raises(ConfigError, match=r"^environment: webhook_secret_file = .*gone.*missing, unreadable or empty"):
        load_settings(tmp_path / "none.toml")


def test_local_parts_credentials_only_while_the_peer_is_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("COURRIER_SMPP_PASSWORD", "COURRIER_SIM_TOKEN", "COURRIER_S3_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    local = Settings()
    assert (local.smpp_password, local.sim_token, local.s3_secret_key) == ("jpwd", "courrier-dev-token", "courrier-secret")
    assert Settings(rbm_url="http://127.0.0.1:1234").sim_token == "courrier-dev-token"  # a test's private simulator
    with pytest.raises(SecretMissing, match="^COURRIER_SMPP_PASSWORD is not set: .*COURRIER_SMPP_HOST"):
        _ = Settings(smpp_host="smsc.example.net").smpp_password
    with pytest.raises(SecretMissing, match="^COURRIER_SIM_TOKEN is not set"):
        _ = Settings(sim_url="https://api.example.net").sim_token
    with pytest.raises(SecretMissing, match="^COURRIER_S3_SECRET_KEY is not set"):
        _ = Settings(s3_endpoint_url="https://s3.example.net").s3_secret_key
    assert Settings(smpp_host="smsc.example.net", smpp_password="real").smpp_password == "real"


def test_an_empty_secret_is_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COURRIER_WEBHOOK_SECRET", "")
    with pytest.raises(SecretMissing, match="^COURRIER_WEBHOOK_SECRET is not set"):
        Settings(state_dir=tmp_path).secret("webhook_secret")
