"""API keys against the real broker: the key id on what is published, revocation reaching a second running instance
through the ``api-keys`` topic, the body cap and the rate limit over real HTTP, and no key in any log line."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
import pytest
from intake_server import Served, create_key, read_topic, serve

from common.config import Settings
from common.errors import CourrierError
from common.logs import JsonFormatter
from courrier.client import ApiError, HttpClient
from processors.access.keys import PREFIX, revoked
from processors.runtime.publisher import write_now
from processors.runtime.stage import Output

OTP = {"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "123456"}, "channel_policy": "sms"}


def courrier(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The `courrier` command against this test's topics."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers, "SCHEMA_REGISTRY_URL": settings.registry_url,
           "COURRIER_TOPIC_PREFIX": settings.topic_prefix}
    return subprocess.run([sys.executable, "-m", "courrier.entry", *args], capture_output=True, text=True, timeout=120, env=env)


def secret_parts(key: str) -> list[str]:
    """The key and its secret part: neither may appear anywhere but in the Authorization header."""
    return [key, key[len(PREFIX) + 13:]]


@contextmanager
def every_log_line() -> Iterator[list[str]]:
    """Every record any logger emits meanwhile, at any level, as the JSON line Courrier would write plus its raw message."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))
            lines.append(f"{record.msg!r} {record.args!r}")

    root, handler = logging.getLogger(), Keep(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def wait_status(client: httpx.Client, status: int, timeout_s: float = 20.0) -> tuple[httpx.Response, float]:
    """Post until the answer has ``status`` (bounded): the last answer and the seconds it took."""
    started = time.monotonic()
    while True:
        answer = client.post("/v1/messages", json=OTP)
        if answer.status_code == status or time.monotonic() - started > timeout_s:
            return answer, time.monotonic() - started
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fast_usage(intake_topics: Settings) -> Settings:
    """The module's topics, with last-used times published every half second."""
    return intake_topics.model_copy(update={"key_usage_flush_s": 0.5})


def test_an_accepted_message_carries_its_key_id_and_never_the_key(served: Served, intake_topics: Settings) -> None:
    with served.client() as client:
        answer = client.post("/v1/messages", json=OTP)
    assert answer.status_code == 202, answer.text
    records = {v["context"]["message_id"]: v for _, v in read_topic(intake_topics, "send-requested", 1)}
    value = records[answer.json()["message_id"]]
    assert value["context"]["api_key_id"] == served.key.key_id
    assert not any(part in repr(value) for part in secret_parts(served.key.key))


def test_no_key_and_a_wrong_key_are_refused_over_http(served: Served) -> None:
    with served.client(authorized=False) as anonymous, served.client("courrier_live_nope") as wrong:
        missing, bad = anonymous.post("/v1/messages", json=OTP), wrong.post("/v1/messages", json=OTP)
    assert (missing.status_code, missing.headers["WWW-Authenticate"]) == (401, 'Bearer realm="courrier"')
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_a_key_revoked_with_the_cli_is_refused_by_a_second_running_instance_within_seconds(fast_usage: Settings) -> None:
    with serve(fast_usage) as first, serve(fast_usage) as second:
        created = courrier(fast_usage, "keys", "create", "--name", "billing-app", "--scopes", "messages:send")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith(PREFIX) and key not in created.stderr
        with first.client(key) as on_first, second.client(key) as on_second:
            # both instances learn a key created while they run
            assert wait_status(on_first, 202)[0].status_code == 202
            assert wait_status(on_second, 202)[0].status_code == 202
            key_id = key[len(PREFIX):len(PREFIX) + 12]
            revoked = courrier(fast_usage, "keys", "revoke", key_id)
            assert revoked.returncode == 0, revoked.stderr
            refused, seconds = wait_status(on_second, 401)
            assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "revoked_api_key"
            print(f"revoke reached the second instance {seconds:.2f}s after `courrier keys revoke` returned")
            assert wait_status(on_first, 401)[0].status_code == 401  # each instance follows the topic on its own
    listed = courrier(fast_usage, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert rows[key_id]["name"] == "billing-app" and rows[key_id]["scopes"] == ["messages:send"]
    assert rows[key_id]["revoked"] is not None and rows[key_id]["last_used"] is not None  # flushed when the instances closed
    assert not any(part in listed.stdout for part in secret_parts(key))


def test_a_body_over_the_cap_is_413_with_a_valid_key(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/v1/messages", content=b"{" + b" " * (1024 * 1024 + 1) + b"}", headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["errors"][0]["code"] == "payload_too_large"


def test_a_burst_over_the_key_limit_is_429_with_retry_after(served: Served, intake_topics: Settings) -> None:
    slow = create_key(intake_topics, rate_per_s=0.01, burst=2)
    with served.client(slow.key) as client:
        statuses = [wait_status(client, 202)[0].status_code]  # the first one waits for the key to reach the table
        answers = [client.post("/v1/messages", json=OTP) for _ in range(3)]
    assert statuses + [a.status_code for a in answers] == [202, 202, 429, 429]
    assert int(answers[1].headers["Retry-After"]) >= 1


def test_no_log_line_contains_a_key(served: Served, intake_topics: Settings, capfd: pytest.CaptureFixture[str]) -> None:
    reader = create_key(intake_topics, ("reports:read",))
    limited = create_key(intake_topics, rate_per_s=0.01, burst=1)
    gone = create_key(intake_topics)
    with every_log_line() as lines:
        with served.client(limited.key) as client:
            wait_status(client, 202)
            assert client.post("/v1/messages", json=OTP).status_code == 429
        with served.client(gone.key) as client:
            wait_status(client, 202)
        write_now(intake_topics, [Output("api-keys", gone.key_id, revoked(gone.record, datetime.now(timezone.utc)))])
        with served.client(gone.key) as client:
            assert wait_status(client, 401)[0].status_code == 401
        with served.client(reader.key) as client:
            assert wait_status(client, 403)[0].status_code == 403
        with served.client() as client:
            assert client.post("/v1/messages", json=OTP).status_code == 202
            assert client.post("/v1/messages/batch", json={"messages": [OTP, {"bad": 1}]}).status_code == 207
            assert client.post("/v1/messages", json={**OTP, "template_id": "nope"}).status_code == 422
        with served.client(served.key.key[:-1] + "x") as client:
            assert client.post("/v1/messages", json=OTP).status_code == 401
    printed = capfd.readouterr()
    everything = "\n".join(lines) + printed.out + printed.err
    assert any(reader.key_id in line and "insufficient_scope" in line for line in lines)  # the capture did see the refusals
    assert any(served.key.key_id in line and "authorized" in line for line in lines)
    for made in (reader, limited, gone, served.key):
        for part in secret_parts(made.key):
            assert part not in everything


def test_the_http_client_takes_the_key_from_an_argument_or_the_environment(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpClient(served.url, api_key=served.key.key) as client:
        assert client.send("+33612345678", "otp", {"code": "1"})
        assert [r["status"] for r in client.send_batch([OTP, {**OTP, "template_id": "nope"}])] == [202, 422]
    monkeypatch.setenv("COURRIER_API_KEY", served.key.key)
    with HttpClient(served.url) as client:
        assert client.send("+33612345678", "otp", {"code": "2"}, idempotency_key="client-env")
    monkeypatch.setenv("COURRIER_API_KEY", "courrier_live_wrong")
    with HttpClient(served.url) as client, pytest.raises(ApiError) as refused:
        client.send("+33612345678", "otp", {"code": "3"})
    assert refused.value.status == 401 and refused.value.errors[0]["code"] == "invalid_api_key"
    assert "courrier_live_wrong" not in str(refused.value)
    monkeypatch.delenv("COURRIER_API_KEY")
    with pytest.raises(CourrierError, match="COURRIER_API_KEY"):
        HttpClient(served.url)


def test_turning_keys_off_is_logged_and_leaves_no_key_id(intake_topics: Settings) -> None:
    with every_log_line() as lines, serve(intake_topics, insecure_no_auth=True) as open_intake:
        with open_intake.client(authorized=False) as client:
            answer = client.post("/v1/messages", json=OTP)
    assert answer.status_code == 202
    assert any("access control is OFF" in line for line in lines)
    records = {v["context"]["message_id"]: v for _, v in read_topic(intake_topics, "send-requested", 1)}
    assert records[answer.json()["message_id"]]["context"]["api_key_id"] is None
