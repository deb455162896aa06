"""`courrier keys`: help, one-line errors, and create → list → revoke against the real broker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest

from common.config import Settings
from processors.access.cli import key_rows
from processors.access.keys import PREFIX, key_id_of, new_key, revoked

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def courrier(*args: str, settings: Settings | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if settings is not None:
        env.update({"KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "SCHEMA_REGISTRY_URL": settings.registry_url,
                    "COURRIER_TOPIC_PREFIX": settings.topic_prefix})
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=120, env=env)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["api", "serve"]])
def test_every_keys_command_has_help(command: list[str]) -> None:
    result = courrier(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout, result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--name", "app", "--scopes", "messages:send,sms:send"], "'sms:send'"),
    (["--name", "app", "--scopes", ","], "at least one scope"),
    (["--name", " ", "--scopes", "admin"], "--name"),
    (["--name", "app", "--scopes", "admin", "--rate", "0"], "--rate"),
    (["--name", "app", "--scopes", "admin", "--burst", "0"], "--burst"),
    (["--name", "app", "--scopes", "admin", "--countries", "FR,XX,QQ"], "unknown region codes QQ, XX"),
    (["--name", "app", "--scopes", "admin", "--countries", " , "], "at least one region"),
])
def test_bad_create_arguments_get_one_line(args: list[str], fragment: str) -> None:
    result = courrier("keys", "create", *args)
    assert result.returncode == 2 and fragment in one_line(result)


def test_rows_show_ids_names_scopes_limits_and_times_but_no_secret() -> None:
    old, current = new_key("old", ("admin",), NOW), new_key("billing", ("messages:send",), datetime(2031, 1, 1, tzinfo=timezone.utc), 5.0, 9)
    keys = {old.key_id: revoked(old.record, NOW), current.key_id: current.record}
    usage = {current.key_id: {"key_id": current.key_id, "last_used_at": datetime(2031, 2, 1, tzinfo=timezone.utc), "instance": "a"}}
    rows = key_rows(keys, usage)
    assert [r["id"] for r in rows] == [old.key_id, current.key_id]
    assert rows[0] == {"id": old.key_id, "name": "old", "scopes": ["admin"], "rate_per_s": None, "burst": None,
                       "created": "2030-01-02T03:04:05+00:00", "last_used": None, "revoked": "2030-01-02T03:04:05+00:00",
                       "countries": None}
    assert rows[1]["last_used"] == "2031-02-01T00:00:00+00:00" and (rows[1]["rate_per_s"], rows[1]["burst"]) == (5.0, 9)
    assert not any(k.key in repr(rows) for k in (old, current))


def test_create_list_revoke(topic_settings: Settings) -> None:
    created = courrier("keys", "create", "--name", "billing-app", "--scopes", "reports:read,messages:send", "--rate", "5",
                       "--burst", "20", "--countries", "se,FR", settings=topic_settings)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    key_id = key_id_of(key)
    assert key.startswith(PREFIX) and key_id is not None and created.stdout.count("\n") == 1
    assert key_id in created.stderr and "only time" in created.stderr and key not in created.stderr

    listed = courrier("keys", "list", "--json", settings=topic_settings)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["id"], r["name"], r["scopes"], r["rate_per_s"], r["burst"], r["revoked"]) for r in rows] == [
        (key_id, "billing-app", ["messages:send", "reports:read"], 5.0, 20, None)]
    assert rows[0]["countries"] == ["FR", "SE"] and "to FR, SE only" in created.stderr
    table = courrier("keys", "list", settings=topic_settings)
    assert table.returncode == 0 and key_id in table.stdout
    for output in (listed.stdout, table.stdout):
        assert key not in output and key[len(PREFIX) + 13:] not in output

    assert courrier("keys", "revoke", key_id, settings=topic_settings).stdout.startswith(f"revoked key {key_id}")
    again = courrier("keys", "revoke", key_id, settings=topic_settings)
    assert again.returncode == 0 and "already revoked" in again.stdout
    assert json.loads(courrier("keys", "list", "--json", settings=topic_settings).stdout)["revoked"] is not None

    unknown = courrier("keys", "revoke", "nosuchkey123", settings=topic_settings)
    assert unknown.returncode == 1 and "nosuchkey123" in one_line(unknown)


def test_without_the_topology_a_keys_command_says_what_to_run(real_parts: Settings) -> None:
    bare = real_parts.model_copy(update={"topic_prefix": f"t-{uuid.uuid4().hex[:10]}-"})
    result = courrier("keys", "list", settings=bare)
    assert result.returncode == 1 and "courrier topology apply" in one_line(result)
