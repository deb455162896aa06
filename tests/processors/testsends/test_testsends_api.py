"""POST /v1/test-sends on the intake app (no Kafka): only test-list numbers, every record marked test; the CLI's refusals."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.conversions.desk import ConversionDesk
from processors.intake.api import create_app
from processors.runtime.stage import Output
from processors.status.reader import StatusReader
from processors.testsends.api import TestSender
from processors.testsends.logic import parse_variables, request

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
EDITOR = new_key("studio", ("templates:write",), NOW)
READER = new_key("reader", ("templates:read",), NOW)
TEAM = "+33612345678,+14155550123"


@pytest.fixture
def published() -> list[Output]:
    return []


@pytest.fixture
def client(published: list[Output]) -> TestClient:
    settings = Settings(test_numbers=TEAM)
    reader = StatusReader(settings, messages={}, campaigns={}, partitions=3)

    def publish(outputs: list[Output]) -> list[str | None]:
        published.extend(outputs)
        return [None] * len(outputs)

    desk = ConversionDesk(settings, reader.message, timedelta(days=7), links={}, recorded={}, publish=publish)
    keys = {k.key_id: k.record for k in (EDITOR, READER)}
    return TestClient(create_app(settings, guard=KeyGuard(settings, keys=keys), status=reader, conversions=desk,
                                 test_sends=TestSender(settings, 5.0, publish=publish)))


def post(client: TestClient, body: dict, key=EDITOR):
    return client.post("/v1/test-sends", json=body, headers={"Authorization": f"Bearer {key.key}"})


def test_a_template_goes_to_each_test_number_marked_as_test(client: TestClient, published: list[Output], assert_valid) -> None:
    answer = post(client, {"template_id": "promo_spring", "to": ["+33 6 12 34 56 78", "+14155550123", "+33612345678"],
                           "variables": {"first_name": "Ava"}})
    assert answer.status_code == 202, answer.text
    messages = answer.json()["messages"]
    assert [m["to"] for m in messages] == ["+33612345678", "+14155550123"]  # E.164, each once
    assert [o.value["context"]["message_id"] for o in published] == [m["message_id"] for m in messages]
    for output in published:
        assert_valid(output)
        context = output.value["context"]
        assert (context["test"], context["lane"], context["source"], context["campaign_id"]) == (True, "TRANSACTIONAL", "test-send", None)
        assert output.value["variables"] == {"first_name": "Ava"} and output.value["channel_policy"] == "RCS_WITH_SMS_FALLBACK"
        assert context["api_key_id"] == EDITOR.key_id


def test_a_number_off_the_list_refuses_the_whole_send(client: TestClient, published: list[Output]) -> None:
    answer = post(client, {"template_id": "promo_spring", "to": ["+33612345678", "+33612345679"]})
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["code"] == "not_a_test_number" and "+33612345679" in error["message"]
    assert published == []


def test_the_scope_is_templates_write(client: TestClient) -> None:
    assert post(client, {"template_id": "promo_spring", "to": ["+33612345678"]}, key=READER).status_code == 403
    assert client.post("/v1/test-sends", json={"template_id": "x", "to": ["+33612345678"]}).status_code == 401


def test_request_and_variables() -> None:
    first, second = (request("otp", "+33612345678", {"code": "1"}, "SMS", NOW) for _ in range(2))
    assert first.key == "+33612345678" and first.value["context"]["message_id"] != second.value["context"]["message_id"]
    assert parse_variables(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize(("args", "expected"), [
    (["--to", "+33612345679"], "not on the test list"),
    (["--to", "+33612345678", "--var", "novalue"], "name=value"),
    (["--to", "+33612345678", "--policy", "fax"], "'fax' is not one of"),
])
def test_the_command_refuses_in_one_line(args: list[str], expected: str) -> None:
    result = subprocess.run([sys.executable, "-m", "courrier.entry", "templates", "test-send", "promo_spring", *args],
                            capture_output=True, text=True, timeout=60, env={**__import__("os").environ, "COURRIER_TEST_NUMBERS": TEAM})
    assert result.returncode == 2 and expected in result.stderr
