"""Settings reach child processes unchanged: ``as_env`` is what ``courrier.processes`` gives every stage."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Settings


def test_as_env_round_trips_every_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no courrier.toml
    original = Settings(kafka_bootstrap_servers="127.0.0.1:1", topic_prefix="t-", partitions=2, quiet_hours_enabled=False,
                        state_dir=tmp_path, smpp_host="smsc.invalid")
    env = original.as_env()
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1" and env["COURRIER_QUIET_HOURS_ENABLED"] == "false"
    for key in list(__import__("os").environ):
        if key.startswith("COURRIER_") or key in ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "S3_ENDPOINT_URL"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


def test_unset_optional_fields_are_left_out() -> None:
    assert "COURRIER_SMPP_HOST" not in Settings(smpp_host=None).as_env()
