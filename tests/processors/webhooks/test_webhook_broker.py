"""The receiver with the real broker and registry: what a 200 promises is on the topics, reports become receipts through
the receipt stage, an unknown message id ends in the dead-letter topic with its reason, and a dead broker answers 503."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import SecretStr
from webhook_helpers import SECRET, body_of, signed, sim_event
from webhook_server import Served, produce, read_until, running, serve

from common.config import Settings
from processors.receipt.stage import ReceiptStage
from processors.runtime import policy
from processors.runtime.policy import RetryPolicy
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.table import TopicTable
from processors.scheduler.scheduler import Scheduler
from processors.web.webhook_settings import WebhookSettings

E164 = "+33612345678"


@pytest.fixture
def settings(topic_settings: Settings) -> Settings:
    return topic_settings.model_copy(update={"webhook_secret": SecretStr(SECRET)})


def post(served: Served, event: dict[str, Any]) -> int:
    body = body_of(event)
    with served.client() as client:
        return client.post("/webhooks/sim", content=body, headers=signed(body)).status_code


def dispatched(message_id: str, provider_id: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    return {
        "context": {"message_id": message_id, "lane": "TRANSACTIONAL", "requested_at": now, "source": "test"},
        "recipient": {"e164": E164, "region": "FR", "number_type": "mobile", "time_zone": None}, "channel": "SMS",
        "fallback_reason": None, "sender": {"sender_id": "COURRIER", "type": "ALPHANUMERIC", "country": "FR", "segments_per_second": 10.0},
        "provider": "http:sim", "provider_message_ids": [provider_id], "segments": 2, "submitted_at": now,
    }


def test_an_accepted_delivery_and_an_inbound_message_are_on_their_topics(settings: Settings) -> None:
    delivery, inbound = sim_event(message_id="agg-7", client_ref="m-7"), sim_event("inbound", text="Stop please")
    with serve(settings) as served:
        assert post(served, delivery) == 200
        assert post(served, inbound) == 200
    [(key, event, _)] = read_until(settings, "provider-events", lambda found: len(found) >= 1)
    assert key == "agg-7"
    assert {k: event[k] for k in ("provider", "provider_message_id", "kind", "raw_status", "message_id", "dispatched")} == {
        "provider": "http:sim", "provider_message_id": "agg-7", "kind": "DELIVERY_REPORT", "raw_status": "DELIVERED",
        "message_id": "m-7", "dispatched": None}
    assert event["raw"] == body_of(delivery).decode()
    [(key, message, _)] = read_until(settings, "inbound", lambda found: len(found) >= 1)
    assert key == E164
    assert (message["from_e164"], message["to_sender_id"], message["text"], message["provider"]) == (E164, "COURRIER", "Stop please", "http:sim")


@pytest.fixture
def receipt_stage(settings: Settings) -> Iterator[None]:
    """The receipt stage (retrying fast, once) and the scheduler that brings retries back, in threads."""
    table = TopicTable(settings, "message-state")
    table.start()
    options = RunnerOptions(batch_size=50, metrics_port=0, retry=RetryPolicy(max_attempts=1, base_delay_s=0.2, jitter=0.0))
    with running(Runner(ReceiptStage(table), settings, options), Scheduler(settings, metrics_port=0)):
        yield
    table.stop()


def receipts_of(settings: Settings, message_id: str, count: int) -> list[str]:
    found = read_until(settings, "receipt", lambda rs: sum(r[1]["context"]["message_id"] == message_id for r in rs) >= count)
    return [value["status"] for _key, value, _ in found if value["context"]["message_id"] == message_id]


def test_reports_become_receipts_by_message_id_and_an_unknown_id_is_dead_lettered(settings: Settings, receipt_stage: None) -> None:
    with serve(settings) as served:
        produce(settings, "dispatched", E164, dispatched("m-1", "agg-1"))
        assert receipts_of(settings, "m-1", 1) == ["SENT"]
        assert post(served, sim_event(message_id="agg-1", client_ref="m-1", status="DELIVERED")) == 200
        assert receipts_of(settings, "m-1", 2) == ["SENT", "DELIVERED"]
        assert post(served, sim_event(message_id="agg-1", client_ref="m-1", status="SENT")) == 200  # late and out of order
        assert post(served, sim_event(message_id="agg-1", client_ref="m-1", status="DELIVERED")) == 200  # a second event, same news
        assert post(served, sim_event("read", message_id="agg-1", client_ref="m-1")) == 200
        assert receipts_of(settings, "m-1", 3) == ["SENT", "DELIVERED", "READ"]

        assert post(served, sim_event(message_id="agg-x", client_ref="nobody", status="DELIVERED")) == 200
        [(key, _raw, headers)] = read_until(settings, "dead-letter", lambda found: len(found) >= 1, decode=False)
    assert key == "agg-x"
    assert headers[policy.ERROR_CLASS] == b"TransientError" and headers[policy.SOURCE_TOPIC] == settings.topic("provider-events").encode()
    assert b"gave up after 1 retries: unknown message id 'nobody'" in headers[policy.ERROR_MESSAGE]
    # Everything the webhook accepted is accounted for: nothing more arrived for m-1 meanwhile.
    assert receipts_of(settings, "m-1", 3) == ["SENT", "DELIVERED", "READ"]
    state = read_until(settings, "message-state", lambda rows: any(v["engaged"] for _k, v, _h in rows))[-1][1]
    assert (state["status"], state["terminal"], state["engaged"], state["segments"]) == ("DELIVERED", True, ["READ"], 2)


def test_when_the_broker_does_not_acknowledge_the_provider_hears_503(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:9"})
    with serve(unreachable, WebhookSettings(publish_timeout_s=1.0)) as served:
        event = sim_event()
        body = body_of(event)
        with served.client() as client:
            answer = client.post("/webhooks/sim", content=body, headers=signed(body))
            assert answer.status_code == 503 and answer.json()["errors"][0]["code"] == "publish_failed"
            again = client.post("/webhooks/sim", content=body, headers=signed(body))
            assert again.status_code == 503, "the failed event was not remembered as seen: its retry is tried again"
