"""`courrier callbacks secret|default` against the real broker: a key's secret made once and shown again, rotated on
demand; a default URL set, refused inside the network, cleared; one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from common.config import Settings
from processors.access.keys import new_key
from processors.access.store import KEYS_TOPIC
from processors.runtime.publisher import write_now
from processors.runtime.snapshot import snapshot
from processors.runtime.stage import Output


def courrier(*args: str, settings: Settings | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if settings is not None:
        env.update({"KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "SCHEMA_REGISTRY_URL": settings.registry_url,
                    "COURRIER_TOPIC_PREFIX": settings.topic_prefix})
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("command", [["callbacks"], ["callbacks", "verify"], ["callbacks", "secret"], ["callbacks", "default"]])
def test_every_callbacks_command_has_help(command: list[str]) -> None:
    result = courrier(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout, result.stderr


def test_secret_and_default_of_a_key(topic_settings: Settings) -> None:
    key = new_key("shop", ("messages:send",), datetime.now(timezone.utc))
    write_now(topic_settings, [Output(KEYS_TOPIC, key.key_id, key.record)])
    made = courrier("callbacks", "secret", key.key_id, settings=topic_settings)
    assert made.returncode == 0 and made.stdout.strip().startswith("whsec_"), made.stderr
    again = courrier("callbacks", "secret", key.key_id, settings=topic_settings)
    assert again.stdout == made.stdout
    rotated = courrier("callbacks", "secret", key.key_id, "--rotate", settings=topic_settings)
    assert rotated.returncode == 0 and rotated.stdout != made.stdout
    inside = courrier("callbacks", "default", key.key_id, "--url", "http://10.0.0.5/hook", settings=topic_settings)
    assert inside.returncode == 1 and inside.stderr.strip().splitlines() == [inside.stderr.strip()] and "private" in inside.stderr
    assert courrier("callbacks", "default", key.key_id, "--url", "http://93.184.216.34/hook", settings=topic_settings).returncode == 0
    record = snapshot(topic_settings, KEYS_TOPIC)[key.key_id]
    assert (record["status_callback"], record["callback_secret"]) == ("http://93.184.216.34/hook", rotated.stdout.strip())
    assert record["hash"] == key.record["hash"]  # the key itself is untouched
    assert courrier("callbacks", "default", key.key_id, "--clear", settings=topic_settings).returncode == 0
    assert snapshot(topic_settings, KEYS_TOPIC)[key.key_id]["status_callback"] is None
    unknown = courrier("callbacks", "secret", "nope", settings=topic_settings)
    assert unknown.returncode == 1 and "no API key 'nope'" in unknown.stderr
