"""The HTTP provider against the real simulator on 127.0.0.1: sends per channel, never twice, refusals, lost answers,
reconciliation, order per destination and the call's deadline."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from common.errors import TransientError, UnreachableError
from processors.providers.sim.adapter import HttpProvider
from processors.dispatch.provider import Submission
from processors.providers.rbm.content import BadRcsContent, content_message
from sim.testing import SimControl, private_sim

CAPABLE, NOT_CAPABLE = "+33612345671", "+33612345670"


def sub(message_id: str | None = None, to: str = CAPABLE, channel: str = "SMS", text: str = "Your code is 1", **extra) -> Submission:
    sender_type = {"RCS": "RCS_AGENT", "MMS": "LONG_CODE"}.get(channel, "ALPHANUMERIC")
    return Submission(message_id or str(uuid.uuid4()), "COURRIER", sender_type, to, text, "GSM7", channel=channel, **extra)


@pytest.fixture
def provider(sim: SimControl) -> Iterator[HttpProvider]:
    opened = HttpProvider(sim.url, sim.token, request_timeout_s=2.0, throttle_retries=1)
    opened.open()
    yield opened
    opened.close()


def lookup(sim: SimControl, ref: str, provider: str = "aggregator") -> dict:
    return httpx.get(f"{sim.url}/v1/messages", params={"client_ref": ref, "provider": provider},
                     headers={"Authorization": f"Bearer {sim.token}"}).json()


def test_open_names_what_is_wrong(sim: SimControl) -> None:
    with pytest.raises(UnreachableError, match="refused the token.*COURRIER_SIM_TOKEN"):
        HttpProvider(sim.url, "wrong").open()
    with private_sim() as gone:
        url = gone.url
    with pytest.raises(UnreachableError, match=f"HTTP provider {url} did not answer.*courrier infra up sim"):
        HttpProvider(url, "t").open()


def test_sms_mms_and_rcs_are_each_sent_once_through_their_api(provider: HttpProvider, sim: SimControl) -> None:
    card = json.dumps({"title": "Your order", "description": "Shipped", "media_url": "https://cdn.example/box.jpg",
                       "suggestions": [{"type": "open_url", "text": "Track", "url": "https://t.example/1"}]})
    batch = [sub("h-sms"), sub("h-mms", channel="MMS", media_urls=("https://cdn.example/a.jpg",)),
             sub("h-rcs", channel="RCS", rcs_json=card), sub("h-rcs-text", channel="RCS")]
    results = provider.submit_many(batch)
    assert [(r.message_id, r.accepted, r.transient) for r in results] == [(s.message_id, True, False) for s in batch]
    assert results[0].provider_message_ids[0].startswith("agg-") and results[2].provider_message_ids == ["h-rcs"]
    assert provider.name == "http:sim"
    assert lookup(sim, "h-mms")["media_urls"] == ["https://cdn.example/a.jpg"] and lookup(sim, "h-mms")["channel"] == "mms"
    assert lookup(sim, "h-rcs", "rbm")["channel"] == "rcs"
    stats = sim.stats()
    assert stats["submissions"] == {"h-sms": 1, "h-mms": 1, "h-rcs": 1, "h-rcs-text": 1}
    assert stats["by_channel"] == {"sms": 1, "mms": 1, "rcs": 2}


def test_a_second_submit_is_accepted_already_with_the_same_id(provider: HttpProvider, sim: SimControl) -> None:
    first = provider.submit_many([sub("again"), sub("again-rcs", channel="RCS")])
    second = provider.submit_many([sub("again"), sub("again-rcs", channel="RCS")])
    assert [r.accepted for r in second] == [True, True] and [r.detail for r in second] == ["already_accepted", "already_accepted"]
    assert second[0].provider_message_ids == first[0].provider_message_ids
    assert sim.stats()["messages"] == 2  # the simulator sent each once; its stats show the two attempts each
    assert sim.stats()["submissions"] == {"again": 2, "again-rcs": 2}


def test_permanent_refusals_carry_the_providers_code(provider: HttpProvider, sim: SimControl) -> None:
    bad_number, not_capable, bad_card = provider.submit_many(
        [sub(to="+1"), sub(to=NOT_CAPABLE, channel="RCS"), sub(channel="RCS", rcs_json='{"carousel": 3}')])
    assert (bad_number.accepted, bad_number.transient, bad_number.error_code, bad_number.detail) == (
        False, False, "invalid_number", "invalid_number")
    assert (not_capable.transient, not_capable.error_code, not_capable.detail) == (False, "NOT_FOUND", "rcs_not_capable")
    assert (bad_card.transient, bad_card.error_code) == (False, "invalid_rcs_content")
    sim.configure(error_rate=1.0)
    (rejected,) = provider.submit_many([sub()])
    assert (rejected.transient, rejected.error_code, rejected.detail) == (False, "carrier_rejected", "carrier_rejected")
    assert sim.stats()["total"] == 0


@pytest.mark.parametrize("fault", [{"transient_error_rate": 1.0}, {"down": True}])
def test_unavailable_is_transient_and_nothing_was_sent(provider: HttpProvider, sim: SimControl, fault: dict) -> None:
    sim.configure(**fault)
    (result,) = provider.submit_many([sub("u-1")])
    assert (result.accepted, result.transient, result.detail) == (False, True, "provider_unavailable")
    assert sim.stats()["total"] == 0


def test_throttling_is_retried_after_retry_after_then_transient(provider: HttpProvider, sim: SimControl) -> None:
    sim.configure(throttle_rate=1.0)
    (result,) = provider.submit_many([sub()])
    assert (result.transient, result.error_code, result.detail) == (True, "rate_limited", "throttled")
    assert sim.stats()["refused"] == {"throttled": 2}  # the first try and one retry


def test_a_lost_answer_is_reconciled_at_once_not_resent(provider: HttpProvider, sim: SimControl) -> None:
    sim.configure(timeout_rate=1.0, timeout_hold_ms=5000)
    (result,) = provider.submit_many([sub("lost-1")])
    assert (result.accepted, result.detail) == (True, "reconciled") and result.provider_message_ids[0].startswith("agg-")
    assert sim.stats()["submissions"] == {"lost-1": 1}


def test_reconcile_says_accepted_never_received_or_cannot_say(provider: HttpProvider, sim: SimControl) -> None:
    provider.submit_many([sub("r-1"), sub("r-2", channel="RCS")])
    assert provider.reconcile("r-1").accepted and provider.reconcile("r-2", channel="RCS").provider_message_ids == ["r-2"]
    assert provider.reconcile("never") is None and provider.reconcile("r-1", channel="RCS") is None
    sim.configure(down=True)
    with pytest.raises(TransientError, match="lookup of r-1 answered HTTP 503"):
        provider.reconcile("r-1")


def test_an_answer_lost_for_good_is_reported_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("no answer", request=request)
        if request.url.params["client_ref"] == "courrier-open-probe":
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "none"}})
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "down"}})

    provider = HttpProvider("http://provider.test", "t", transport=httpx.MockTransport(handler))
    provider.open()
    try:
        (result,) = provider.submit_many([sub("gone")])
    finally:
        provider.close()
    assert (result.accepted, result.transient, result.error_code, result.detail) == (False, True, "timeout", "timeout")


def test_one_destinations_messages_leave_in_order_and_wait_after_a_transient_one(provider: HttpProvider, sim: SimControl) -> None:
    sim.configure(latency_ms=5)
    destinations = [f"+3361234{n:04d}1" for n in range(12)]
    batch = [sub(f"o-{d}-{k}", to=d) for k in range(5) for d in destinations]
    assert all(r.accepted for r in provider.submit_many(batch))
    for destination in destinations:
        times = [lookup(sim, f"o-{destination}-{k}")["submitted_at"] for k in range(5)]
        assert times == sorted(times)
    sim.configure(transient_error_rate=1.0, latency_ms=0)
    first, second = provider.submit_many([sub("held-1"), sub("held-2")])
    assert (first.detail, second.detail, second.transient) == ("provider_unavailable", "held_for_order", True)
    assert "held-2" not in sim.stats()["submissions"]


def test_past_the_deadline_nothing_starts_and_what_is_in_flight_is_unknown(sim: SimControl) -> None:
    sim.configure(latency_ms=1500)  # one send fits in the 2.5 s call with a second to spare, the second cannot
    provider = HttpProvider(sim.url, sim.token, concurrency=1)
    provider.open()
    try:
        results = provider.submit_many([sub("d-1", to="+33612345671"), sub("d-2", to="+33612345672"),
                                        sub("d-3", to="+33612345673")], timeout_s=2.5)
    finally:
        provider.close()
    assert [(r.accepted, r.detail) for r in results] == [(True, None), (False, "timeout"), (False, "not_submitted")]
    deadline = time.monotonic() + 5
    while "d-2" not in sim.stats()["submissions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # d-2 arrived after the client gave up: exactly why a timeout must be reconciled, never resent. d-3 never left.
    assert sim.stats()["submissions"] == {"d-1": 1, "d-2": 1}


def test_rbm_content_shapes() -> None:
    assert content_message(None, "Hi") == {"text": "Hi"}
    text = content_message(json.dumps({"text": "Hi", "suggestions": [{"type": "reply", "text": "Yes"}]}), "fallback")
    assert text == {"text": "Hi", "suggestions": [{"reply": {"text": "Yes", "postbackData": "Yes"}}]}
    carousel = content_message(json.dumps({"carousel": [{"title": "A"}, {"description": "B", "suggestions": [
        {"type": "dial", "text": "Call", "phone_number": "+33612345678"}]}]}), "fallback")
    cards = carousel["richCard"]["carouselCard"]["cardContents"]
    assert cards[0] == {"title": "A"} and cards[1]["suggestions"][0]["action"]["dialAction"] == {"phoneNumber": "+33612345678"}
    for bad in ("[]", "{nope", '{"title": "A", "suggestions": [{"type": "share", "text": "x"}]}', '{"suggestions": []}'):
        with pytest.raises(BadRcsContent):
            content_message(bad, "fallback")


def test_the_validity_reaches_the_provider_and_an_expired_message_is_not_delivered(provider: HttpProvider, sim: SimControl) -> None:
    sim.configure(delivery_delay_ms=300)
    soon, later = datetime.now(timezone.utc) + timedelta(milliseconds=100), datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    results = provider.submit_many([sub("v-sms", expires_at=later), sub("v-rcs", channel="RCS", expires_at=soon), sub("v-none")])
    assert all(r.accepted for r in results)
    assert lookup(sim, "v-sms")["expire_at"] == "2030-01-02T03:04:05.000Z" and lookup(sim, "v-none")["expire_at"] is None
    time.sleep(0.4)
    assert lookup(sim, "v-rcs", "rbm")["status"] == "expired" and lookup(sim, "v-sms")["status"] == "delivered"
