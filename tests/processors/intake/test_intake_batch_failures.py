"""A batch that fails part-way never leaves a key answering an unpublished message id (no broker: a fake publisher).

The broker regression (a tz folder in a batch, then a retry) is ``test_intake_api_broker``'s.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeded import bundled_index

from common.config import Settings
from processors.intake import service as intake_service
from processors.intake.api import create_app
from processors.intake.models import MessageRequest
from processors.runtime.stage import Output

OTP = {"template_id": "otp", "variables": {"code": "123456"}, "channel_policy": "sms"}


class FakePublisher:
    """Keeps what it is given; refuses the records of ``refused`` recipients, or raises on every call while ``broken``."""

    def __init__(self) -> None:
        self.published: list[Output] = []
        self.refused: set[str] = set()
        self.broken = False

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        if self.broken:
            raise RuntimeError("the producer blew up")
        errors = [("Local: Message timed out" if o.topic == "send-requested" and o.value["recipient"] in self.refused else None)
                  for o in outputs]
        self.published += [o for o, error in zip(outputs, errors) if error is None]
        return errors

    def sent_ids(self) -> set[str]:
        return {o.value["context"]["message_id"] for o in self.published if o.topic == "send-requested"}


@pytest.fixture
def app() -> tuple[TestClient, FakePublisher]:
    """The intake app without access control or lifespan (nothing reaches Kafka), publishing into a ``FakePublisher``."""
    application = create_app(Settings(), insecure_no_auth=True)
    publisher = FakePublisher()
    application.state.service._publisher = publisher
    application.state.service.templates = bundled_index()  # the store as seeded (its table needs a broker)
    return TestClient(application, raise_server_exceptions=False), publisher


def batch(*recipients: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{**OTP, "recipient": r, "idempotency_key": f"key-{r}", **extra} for r in recipients]}


def statuses(answer: Any) -> list[int]:
    assert answer.status_code == 207, answer.text
    return [item["status"] for item in answer.json()["results"]]


def assert_every_answered_id_was_published(answer: Any, publisher: FakePublisher) -> None:
    answered = {item["message_id"] for item in answer.json()["results"] if item.get("message_id")}
    assert answered <= publisher.sent_ids()


A, B, C = "+33612345601", "+33612345602", "+33612345603"


def test_an_item_that_cannot_be_judged_is_a_500_of_its_own_and_its_key_stays_free(app, monkeypatch: pytest.MonkeyPatch) -> None:
    client, publisher = app
    judge = intake_service.problems

    def broken_for_b(request: MessageRequest, templates: Any) -> Any:
        if request.recipient == B:
            raise IsADirectoryError("a bug in one item's checks")
        return judge(request, templates)

    monkeypatch.setattr(intake_service, "problems", broken_for_b)
    first = client.post("/v1/messages/batch", json=batch(A, B, C))
    assert statuses(first) == [202, 500, 202]
    assert first.json()["results"][1]["errors"][0]["code"] == "internal_error"
    assert_every_answered_id_was_published(first, publisher)

    monkeypatch.setattr(intake_service, "problems", judge)  # fixed: the same batch again, with the same keys
    retry = client.post("/v1/messages/batch", json=batch(A, B, C))
    assert statuses(retry) == [200, 202, 200]
    assert [r.get("message_id") for i, r in enumerate(retry.json()["results"]) if i != 1] == \
        [r["message_id"] for i, r in enumerate(first.json()["results"]) if i != 1]
    assert_every_answered_id_was_published(retry, publisher)


def test_a_publisher_that_raises_releases_every_key_the_batch_claimed(app) -> None:
    client, publisher = app
    publisher.broken = True
    assert client.post("/v1/messages/batch", json=batch(A, B)).status_code == 500
    publisher.broken = False
    retry = client.post("/v1/messages/batch", json=batch(A, B))
    assert statuses(retry) == [202, 202]  # not replays of ids that never reached send-requested
    assert_every_answered_id_was_published(retry, publisher)


def test_an_item_kafka_did_not_take_is_a_503_and_a_retry_sends_it(app) -> None:
    client, publisher = app
    publisher.refused = {B}
    first = client.post("/v1/messages/batch", json=batch(A, B, C))
    assert statuses(first) == [202, 503, 202]
    publisher.refused = set()
    retry = client.post("/v1/messages/batch", json=batch(A, B, C))
    assert statuses(retry) == [200, 202, 200]
    assert_every_answered_id_was_published(retry, publisher)


@pytest.mark.parametrize("zone", ["Etc", "Europe", "America/Argentina", "localtime", "posixrules", "right/UTC"])
def test_a_time_zone_that_is_no_zone_is_a_422_of_its_own(app, zone: str) -> None:
    client, publisher = app
    body = batch(A, B, C)
    body["messages"][1]["time_zone"] = zone
    answer = client.post("/v1/messages/batch", json=body)
    assert statuses(answer) == [202, 422, 202]
    assert [(e["code"], e["field"]) for e in answer.json()["results"][1]["errors"]] == [("invalid_time_zone", "time_zone")]
    assert_every_answered_id_was_published(answer, publisher)


def test_one_message_that_cannot_be_judged_is_a_500_with_its_reason(app, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _publisher = app
    monkeypatch.setattr(intake_service, "problems", lambda *_: 1 / 0)
    answer = client.post("/v1/messages", json={**OTP, "recipient": A})
    assert answer.status_code == 500 and answer.json()["errors"][0]["code"] == "internal_error"


def test_a_key_in_the_reserved_namespace_is_refused(app) -> None:
    client, publisher = app
    for headers, body in (({}, {**OTP, "recipient": A, "idempotency_key": "courrier:message-id:x"}),
                          ({"Idempotency-Key": "courrier:anything"}, {**OTP, "recipient": A})):
        answer = client.post("/v1/messages", json=body, headers=headers)
        assert answer.status_code == 422 and answer.json()["errors"][0]["code"] == "reserved_idempotency_key"
    assert publisher.published == []


def test_a_caller_cannot_choose_the_message_id(app) -> None:
    """The intake assigns every id (a UUID): a ``message_id`` field, empty or not, is an unknown field."""
    client, publisher = app
    for message_id in ("", "mine"):
        answer = client.post("/v1/messages", json={**OTP, "recipient": A, "message_id": message_id})
        assert answer.status_code == 422 and answer.json()["errors"][0]["code"] == "extra_forbidden"
    assert publisher.published == []
