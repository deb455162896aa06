"""Events posted back: signed as the contract says, retried, duplicated, reordered, inbound, and given up when nobody answers."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from sim.simulator import SimOptions
from sim.testing import Received, SimControl, WebhookCollector, private_sim, webhook_collector

SECRET = secrets.token_urlsafe(32)
TO = "+33612345671"


@pytest.fixture
def collector() -> Iterator[WebhookCollector]:
    with webhook_collector() as received:
        yield received


@pytest.fixture
def sim(collector: WebhookCollector) -> Iterator[SimControl]:
    with private_sim(SimOptions(webhook_url=collector.url, webhook_secret=SECRET), delivery_delay_ms=0, read_delay_ms=0) as control:
        yield control


def api(sim: SimControl) -> httpx.Client:
    return httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.token}"}, timeout=10)


def send_sms(sim: SimControl, ref: str) -> str:
    with api(sim) as client:
        answer = client.post("/v1/messages", json={"channel": "sms", "from": "COURRIER", "to": TO, "text": "Hi", "client_ref": ref})
    assert answer.status_code == 201
    return answer.json()["id"]


def send_rcs(sim: SimControl, ref: str) -> None:
    with api(sim) as client:
        answer = client.post(f"/v1/phones/{TO}/agentMessages", params={"messageId": ref}, json={"contentMessage": {"text": "Hi"}})
    assert answer.status_code == 200


def verified(post: Received) -> bool:
    timestamp = post.headers["x-courrier-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + post.body, hashlib.sha256).hexdigest()
    return post.headers["x-courrier-signature"] == f"v1={expected}" and abs(time.time() - int(timestamp)) < 60


def test_a_delivery_is_posted_signed_in_the_contract_shape(sim: SimControl, collector: WebhookCollector) -> None:
    provider_id = send_sms(sim, "w-1")
    (post,) = collector.wait_for(1)
    assert verified(post) and post.headers["content-type"] == "application/json"
    event = post.event
    assert {k: event[k] for k in ("type", "provider", "message_id", "client_ref", "status", "error_code", "from", "to", "text")} == {
        "type": "delivery", "provider": "aggregator", "message_id": provider_id, "client_ref": "w-1", "status": "DELIVERED",
        "error_code": None, "from": None, "to": None, "text": None}
    assert len(event["event_id"]) == 36 and event["occurred_at"].endswith("Z")
    assert sim.stats()["webhooks"]["posted"] == 1


def test_rcs_is_delivered_then_read(sim: SimControl, collector: WebhookCollector) -> None:
    sim.configure(read_delay_ms=300)
    send_rcs(sim, "w-2")
    posts = collector.wait_for(2)
    assert [(p.event["type"], p.event["status"], p.event["provider"]) for p in posts] == [
        ("delivery", "DELIVERED", "rbm"), ("read", "READ", "rbm")]
    assert all(verified(p) for p in posts)


def test_a_refused_post_is_tried_again_and_signed_again() -> None:
    with webhook_collector(fail_first=2) as collector, \
            private_sim(SimOptions(webhook_url=collector.url, webhook_secret=SECRET), delivery_delay_ms=0) as sim:
        send_sms(sim, "w-3")
        (post,) = collector.wait_for(1)
        assert verified(post) and collector.refused == 2
        assert sim.stats()["webhooks"] | {"pending": 0} == {"posted": 1, "retried": 2, "failed": 0, "dropped": 0, "cancelled": 0,
                                                                  "pending": 0}


def test_nobody_listening_ends_in_failed_not_in_a_growing_queue() -> None:
    with webhook_collector() as gone:
        url = gone.url
    with private_sim(SimOptions(webhook_url=url), delivery_delay_ms=0, webhook_attempts=2) as sim:
        send_sms(sim, "w-4")
        deadline = time.monotonic() + 20
        while sim.stats()["webhooks"]["failed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.stats()["webhooks"] == {"posted": 0, "retried": 1, "failed": 1, "dropped": 0, "cancelled": 0, "pending": 0}


def test_duplicates_repeat_the_same_event(sim: SimControl, collector: WebhookCollector) -> None:
    sim.configure(duplicate_rate=1.0)
    send_sms(sim, "w-5")
    posts = collector.wait_for(2)
    assert len(posts) == 2 and posts[0].body == posts[1].body


def test_reorder_posts_read_before_delivered_with_true_times(sim: SimControl, collector: WebhookCollector) -> None:
    sim.configure(reorder=True, delivery_delay_ms=100, read_delay_ms=300)
    send_rcs(sim, "w-6")
    posts = collector.wait_for(2)
    assert [p.event["status"] for p in posts] == ["READ", "DELIVERED"]
    assert posts[0].event["occurred_at"] > posts[1].event["occurred_at"]


def test_undelivered_and_expired_carry_an_error_code(sim: SimControl, collector: WebhookCollector) -> None:
    sim.configure(undelivered_rate=1.0)
    send_sms(sim, "w-7")
    sim.configure(undelivered_rate=0.0, expired_rate=1.0)
    send_rcs(sim, "w-8")
    posts = collector.wait_for(2)
    assert sorted((p.event["client_ref"], p.event["status"], p.event["error_code"]) for p in posts) == [
        ("w-7", "UNDELIVERED", "30003"), ("w-8", "EXPIRED", "TTL_EXPIRED")]
    with api(sim) as client:
        assert client.get("/v1/messages", params={"client_ref": "w-7"}).json()["status"] == "undelivered"


def test_an_inbound_message_is_posted(sim: SimControl, collector: WebhookCollector) -> None:
    event_id = sim.inbound("+33612345678", "36180", "STOP")
    (post,) = collector.wait_for(1)
    event = post.event
    assert verified(post) and event["event_id"] == event_id
    assert {k: event[k] for k in ("type", "provider", "client_ref", "status", "from", "to", "text")} == {
        "type": "inbound", "provider": "aggregator", "client_ref": None, "status": None, "from": "+33612345678", "to": "36180",
        "text": "STOP"}
    assert httpx.post(f"{sim.url}/_sim/inbound", json={"from": "+33612345678"}).status_code == 400


def test_webhooks_can_be_turned_off(sim: SimControl, collector: WebhookCollector) -> None:
    sim.configure(webhook_url=None)
    send_sms(sim, "w-9")
    assert httpx.post(f"{sim.url}/_sim/inbound", json={"from": "+33612345678", "to": "36180", "text": "x"}).status_code == 409
    time.sleep(0.3)
    assert collector.received == [] and sim.stats()["webhooks"]["pending"] == 0
