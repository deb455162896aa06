"""status_callback at intake: resolved (the key's default), checked by the SSRF rules at request time, carried on the
message's context; refused with 422 when it points inside the network, and then nothing is published nor sent.

In a network sandbox (stub DNS; any connection beyond loopback fails the test), and without a broker."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from seeded import bundled_index
from test_intake_batch_failures import FakePublisher

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.intake.api import create_app

sys.path.append(str(Path(__file__).resolve().parents[1] / "render"))
from media_http import Network, sandboxed  # noqa: E402  (the render tests' sandbox)

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
OTP = {"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "123456"}, "channel_policy": "sms"}
SIGNING = new_key("shop", ("messages:send",), NOW)
DEFAULTED = new_key("shop-with-default", ("messages:send",), NOW)
UNSIGNED = new_key("shop-without-secret", ("messages:send",), NOW)
RECORDS = {SIGNING.key_id: {**SIGNING.record, "callback_secret": "whsec_a"},
           DEFAULTED.key_id: {**DEFAULTED.record, "callback_secret": "whsec_b", "status_callback": "https://hooks.example.com/default"},
           UNSIGNED.key_id: UNSIGNED.record}


@pytest.fixture
def network(monkeypatch) -> Iterator[Network]:
    with sandboxed(monkeypatch) as sandbox:
        sandbox.names.update({"hooks.example.com": ["93.184.216.34"], "metadata.example.com": ["169.254.169.254"],
                              "split.example.com": ["93.184.216.34", "10.0.0.9"]})
        yield sandbox
    assert sandbox.refused == [], "the intake tried to reach a non-loopback address"


def clients() -> tuple[TestClient, FakePublisher]:
    settings = Settings()
    app = create_app(settings, guard=KeyGuard(settings, keys=RECORDS))
    publisher = FakePublisher()
    app.state.service._publisher = publisher
    app.state.service.templates = bundled_index()  # the store as seeded (its table needs a broker)
    return TestClient(app), publisher


def send(client: TestClient, key, **fields):
    return client.post("/v1/messages", json={**OTP, **fields}, headers={"Authorization": f"Bearer {key.key}"})


def callbacks_sent(publisher: FakePublisher) -> list[str | None]:
    return [o.value["context"]["status_callback"] for o in publisher.published if o.topic == "send-requested"]


@pytest.mark.parametrize("url, why", [
    ("http://10.0.0.5/hook", "private"), ("http://127.0.0.1:8080/hook", "port 8080"), ("https://metadata.example.com/x", "cloud metadata"),
    ("https://split.example.com/x", "10.0.0.9 (private)"), ("ftp://hooks.example.com/x", "only http(s)"),
    ("https://user:pw@hooks.example.com/x", "credentials"),
])
def test_a_callback_inside_the_network_is_refused_and_nothing_is_sent(network: Network, url: str, why: str) -> None:
    client, publisher = clients()
    answer = send(client, SIGNING, status_callback=url)
    assert answer.status_code == 422
    problem = answer.json()["errors"][0]
    assert (problem["code"], problem["field"]) == ("callback_url_refused", "status_callback") and why in problem["message"]
    assert publisher.published == []


def test_a_public_callback_or_the_keys_default_rides_on_the_context(network: Network) -> None:
    client, publisher = clients()
    assert send(client, SIGNING, status_callback="https://hooks.example.com/mine").status_code == 202
    assert send(client, SIGNING).status_code == 202
    assert send(client, DEFAULTED).status_code == 202
    assert send(client, DEFAULTED, status_callback="https://hooks.example.com/this-one").status_code == 202
    assert callbacks_sent(publisher) == ["https://hooks.example.com/mine", None, "https://hooks.example.com/default",
                                         "https://hooks.example.com/this-one"]


def test_a_key_without_a_callback_secret_cannot_ask_for_callbacks(network: Network) -> None:
    client, publisher = clients()
    answer = send(client, UNSIGNED, status_callback="https://hooks.example.com/mine")
    assert (answer.status_code, answer.json()["errors"][0]["code"]) == (422, "no_callback_secret")
    assert publisher.published == []


def test_a_batch_refuses_only_its_items_with_a_bad_callback(network: Network) -> None:
    client, publisher = clients()
    items = [{**OTP, "status_callback": "https://hooks.example.com/a"}, {**OTP, "status_callback": "http://192.168.1.1/"},
             {**OTP, "status_callback": "https://hooks.example.com/a"}]
    answer = client.post("/v1/messages/batch", json={"messages": items}, headers={"Authorization": f"Bearer {SIGNING.key}"})
    assert [r["status"] for r in answer.json()["results"]] == [202, 422, 202]
    assert answer.json()["results"][1]["errors"][0]["code"] == "callback_url_refused"
    assert callbacks_sent(publisher) == ["https://hooks.example.com/a"] * 2
    assert network.lookups.count("hooks.example.com") == 1  # one URL, checked once per request
