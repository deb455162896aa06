"""The intake over HTTP with the real broker and registry: what it answers, and what lands on the topics."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import httpx

from common.config import Settings
from processors.rules.idempotency import scoped_key
from processors.intake.models import MAX_BATCH
from processors.rules.templates import load
from intake_server import Served, create_key, read_topic, serve

OTP = {"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "123456"}, "channel_policy": "sms"}


def sent_with_key(settings: Settings, key: str) -> list[dict]:
    """Every send-requested carrying ``key``, read after the topic has been quiet for two seconds."""
    return [v for _, v in read_topic(settings, "send-requested", 0, settle_s=2) if v["context"]["idempotency_key"] == key]


def test_one_message_is_accepted_and_its_send_requested_is_on_the_topic(served: Served, intake_topics: Settings) -> None:
    body = {**OTP, "channel_policy": "rcs_with_sms_fallback", "lane": "marketing", "subscription_group": "news", "campaign_id": "c1",
            "variant": "B", "send_at": "2030-01-02T03:04:05+01:00", "validity": 3600, "locale": "fr-FR"}
    with served.client() as client:
        answer = client.post("/v1/messages", json=body)
    assert answer.status_code == 202, answer.text
    message_id = answer.json()["message_id"]
    assert uuid.UUID(message_id).version == 4
    records = {v["context"]["message_id"]: (k, v) for k, v in read_topic(intake_topics, "send-requested", 1)}
    key, value = records[message_id]
    assert key == "+33612345678"
    assert value["channel_policy"] == "RCS_WITH_SMS_FALLBACK"
    assert value["context"]["lane"] == "MARKETING" and value["context"]["subscription_group"] == "news"
    assert value["context"]["source"] == "api" and value["context"]["variant"] == "B"
    assert value["variables"] == {"code": "123456"} and value["validity_seconds"] == 3600 and value["locale"] == "fr-FR"
    assert value["send_at"].isoformat() == "2030-01-02T02:04:05+00:00"


def test_the_same_key_twice_on_one_instance_answers_the_first_id_and_sends_once(served: Served, intake_topics: Settings) -> None:
    key = f"order-{uuid.uuid4()}"
    with served.client() as client:
        first = client.post("/v1/messages", json={**OTP, "idempotency_key": key})
        second = client.post("/v1/messages", json=OTP, headers={"Idempotency-Key": key})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    assert second.status_code == 200 and second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["message_id"] == first.json()["message_id"]
    assert [v["context"]["message_id"] for v in sent_with_key(intake_topics, key)] == [first.json()["message_id"]]
    stored = scoped_key(key, served.key.key_id)  # keys are scoped per API key
    records = [v for k, v in read_topic(intake_topics, "idempotency", 1, timeout_s=10) if k == stored]
    assert [r["message_id"] for r in records] == [first.json()["message_id"]]
    assert (records[0]["expires_at"] - records[0]["first_seen_at"]).total_seconds() == 24 * 3600


def test_a_header_key_that_contradicts_the_body_is_refused(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/v1/messages", json={**OTP, "idempotency_key": "a"}, headers={"Idempotency-Key": "b"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "idempotency_key_conflict"


def test_a_key_sent_to_two_instances_one_after_the_other_makes_one_message(intake_topics: Settings) -> None:
    started_later, both_running = f"later-{uuid.uuid4()}", f"both-{uuid.uuid4()}"
    with serve(intake_topics) as a:
        with a.client() as client:
            first = client.post("/v1/messages", json={**OTP, "idempotency_key": started_later})
        assert first.status_code == 202
        # the same API key on both instances (keys are scoped per API key; b loads a's from the api-keys topic)
        with serve(intake_topics) as b, b.client(a.key.key) as client_b, a.client() as client_a:
            # b loaded the key from the topic when it started
            replay = client_b.post("/v1/messages", json={**OTP, "idempotency_key": started_later})
            assert (replay.status_code, replay.json()["message_id"]) == (200, first.json()["message_id"])
            # b follows the topic live: a key a accepts now reaches b's table
            on_a = client_a.post("/v1/messages", json={**OTP, "idempotency_key": both_running})
            assert on_a.status_code == 202
            deadline = time.monotonic() + 20
            stored = scoped_key(both_running, a.key.key_id)
            while b.service.window.lookup(stored, datetime.now(timezone.utc)) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            on_b = client_b.post("/v1/messages", json={**OTP, "idempotency_key": both_running})
            assert (on_b.status_code, on_b.json()["message_id"]) == (200, on_a.json()["message_id"])
    assert len(sent_with_key(intake_topics, started_later)) == 1
    assert len(sent_with_key(intake_topics, both_running)) == 1


def test_a_second_api_key_reusing_a_key_gets_its_own_message(served: Served, intake_topics: Settings) -> None:
    """Issue 20's probe: keys were global, so the second caller got the first one's message id and its message was not sent."""
    key, other = f"shared-{uuid.uuid4()}", create_key(intake_topics, name="other-tenant")
    with served.client() as client, served.client(other.key) as other_client:
        first = client.post("/v1/messages", json={**OTP, "idempotency_key": key})
        deadline = time.monotonic() + 20
        second = other_client.post("/v1/messages", json={**OTP, "idempotency_key": key})
        while second.status_code == 401 and time.monotonic() < deadline:  # the guard follows the api-keys topic live
            time.sleep(0.1)
            second = other_client.post("/v1/messages", json={**OTP, "idempotency_key": key})
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["message_id"] != second.json()["message_id"]
    assert sorted(v["context"]["message_id"] for v in sent_with_key(intake_topics, key)) == sorted(
        [first.json()["message_id"], second.json()["message_id"]])


def test_a_batch_of_1000_puts_1000_records_on_the_topic(served: Served, intake_topics: Settings) -> None:
    batch = [{**OTP, "variables": {"code": f"{i:06d}"}} for i in range(MAX_BATCH)]
    with served.client() as client:
        answer = client.post("/v1/messages/batch", json={"messages": batch})
    assert answer.status_code == 207, answer.text
    results = answer.json()["results"]
    assert [r["index"] for r in results] == list(range(MAX_BATCH))
    assert {r["status"] for r in results} == {202}
    ids = {r["message_id"] for r in results}
    assert len(ids) == MAX_BATCH
    on_topic = {v["context"]["message_id"]: v for _, v in read_topic(intake_topics, "send-requested", MAX_BATCH)}
    assert ids <= set(on_topic)
    assert {on_topic[r["message_id"]]["variables"]["code"] for r in results} == {f"{i:06d}" for i in range(MAX_BATCH)}


def test_a_batch_judges_each_item_on_its_own(served: Served, intake_topics: Settings) -> None:
    key = f"batch-{uuid.uuid4()}"
    batch = [{**OTP, "idempotency_key": key}, {**OTP, "recipient": "+3361"}, {**OTP, "validity": 0}, {**OTP, "idempotency_key": key},
             {"template_id": "nope", "recipient": "+33612345678"}]
    with served.client() as client:
        results = client.post("/v1/messages/batch", json={"messages": batch}).json()["results"]
    assert [r["status"] for r in results] == [202, 422, 422, 200, 422]
    assert results[3]["message_id"] == results[0]["message_id"] and results[3]["replayed"] is True
    assert results[1]["errors"][0]["code"] == "invalid_number" and results[1]["errors"][0]["field"] == "recipient"
    assert results[2]["errors"][0]["field"] == "validity"
    assert results[4]["errors"][0]["code"] == "unknown_template"
    assert len(sent_with_key(intake_topics, key)) == 1


def test_a_batch_with_a_tz_folder_answers_each_item_and_a_retry_replays_only_published_ids(served: Served, intake_topics: Settings) -> None:
    """Regression: a ``time_zone`` naming a tz folder made the whole batch a 500 after the items before it had claimed their keys,
    so a retry answered Idempotent-Replayed with ids that never reached send-requested."""
    run = uuid.uuid4().hex[:8]
    zones = [None, "Etc", None, "Europe", "localtime", "right/UTC"]
    batch = [{**OTP, "idempotency_key": f"tz-{run}-{i}", **({"time_zone": zone} if zone else {})} for i, zone in enumerate(zones)]
    with served.client() as client:
        first = client.post("/v1/messages/batch", json={"messages": batch}).json()["results"]
        retry = client.post("/v1/messages/batch", json={"messages": batch}).json()["results"]
    assert [r["status"] for r in first] == [202, 422, 202, 422, 422, 422]
    assert {e["code"] for r in first if r["status"] == 422 for e in r["errors"]} == {"invalid_time_zone"}
    assert [r["status"] for r in retry] == [200, 422, 200, 422, 422, 422]
    answered = {r["message_id"] for r in [*first, *retry] if r.get("message_id")}
    assert answered == {first[0]["message_id"], first[2]["message_id"]}
    on_topic = {v["context"]["message_id"] for _, v in read_topic(intake_topics, "send-requested", 1, settle_s=2)
                if (v["context"]["idempotency_key"] or "").startswith(f"tz-{run}-")}
    assert on_topic == answered


def test_batch_envelope_limits(served: Served) -> None:
    with served.client() as client:
        too_many = client.post("/v1/messages/batch", json={"messages": [OTP] * (MAX_BATCH + 1)})
        empty = client.post("/v1/messages/batch", json={"messages": []})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "messages"
    assert empty.status_code == 422


def test_an_oversize_body_is_refused_with_413_declared_or_streamed(served: Served) -> None:
    huge = b'{"template_id": "otp", "recipient": "' + b"1" * (1024 * 1024) + b'"}'

    def chunks():
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start:start + 64 * 1024]

    with served.client() as client:
        declared = client.post("/v1/messages", content=huge, headers={"content-type": "application/json"})
        streamed = client.post("/v1/messages", content=chunks(), headers={"content-type": "application/json"})
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json()["errors"][0]["code"] == "payload_too_large"


def test_bad_requests_are_422_naming_what_is_wrong(served: Served) -> None:
    with served.client() as client:
        bad_number = client.post("/v1/messages", json={**OTP, "recipient": "+33 1 23 45 67 89"}).json()
        unknown = client.post("/v1/messages", json={**OTP, "template_id": "welcome"}).json()
        missing = client.post("/v1/messages", json={**OTP, "template_id": "order_shipped", "variables": {}}).json()
        fields = client.post("/v1/messages", json={**OTP, "recipient": "+3" * 20, "channel": "sms", "lane": "MARKETING"})
        not_json = client.post("/v1/messages", content=b"{nope", headers={"content-type": "application/json"})
    assert bad_number["errors"] == [{"code": "number_type_cannot_receive_sms", "message": "a fixed_line number cannot receive SMS",
                                     "field": "recipient"}]
    assert unknown["errors"][0]["code"] == "unknown_template"
    assert unknown["errors"][0]["known_templates"] == sorted(load()) and "otp" in unknown["errors"][0]["known_templates"]
    assert missing["errors"][0]["missing_variables"] == ["first_name", "order_id"]
    assert fields.status_code == 422
    assert {e["field"] for e in fields.json()["errors"]} == {"recipient", "channel", "lane"}
    assert not_json.status_code == 422


def test_healthz(served: Served) -> None:
    answer = httpx.get(f"{served.url}/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok" and answer.json()["templates"] == len(load())
