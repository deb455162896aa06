"""The receiver's parts without HTTP: the signature check, the replay guard and the simulator's body parser."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webhook_helpers import SECRET, body_of, signed, sim_event

from processors.providers.sim import webhook as sim
from processors.web.webhook_contract import Rejected
from processors.webhooks.replay import Claim, ReplayGuard
from processors.web.webhook_signature import HmacVerifier, sign

VERIFIER = HmacVerifier(SECRET, 300)
BODY = b'{"event_id":"e-1"}'


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def refused(headers: dict[str, str], body: bytes = BODY, now: float | None = None) -> Rejected:
    with pytest.raises(Rejected) as caught:
        VERIFIER.verify(lower(headers), body, time.time() if now is None else now)
    return caught.value


def test_a_body_signed_with_the_secret_within_the_window_passes() -> None:
    headers = signed(BODY)
    assert VERIFIER.verify(lower(headers), BODY, time.time()) == headers["X-Courrier-Signature"][3:]


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    assert sign("k", 1700000000, b"{}") == "v1=" + hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "unsigned"),
    ({"X-Courrier-Timestamp": "1700000000"}, "unsigned"),
    ({"X-Courrier-Signature": "v1=" + "0" * 64}, "unsigned"),
    ({"X-Courrier-Timestamp": "soon", "X-Courrier-Signature": "v1=" + "0" * 64}, "bad_timestamp"),
    ({"X-Courrier-Timestamp": "-5", "X-Courrier-Signature": "v1=" + "0" * 64}, "bad_timestamp"),
])
def test_unsigned_requests_are_refused(headers: dict[str, str], reason: str) -> None:
    rejected = refused(headers)
    assert (rejected.status, rejected.reason) == (401, reason)


def test_a_wrong_secret_a_changed_body_or_a_garbled_header_is_a_bad_signature() -> None:
    assert (refused(signed(BODY, secret="other")).status, refused(signed(BODY, secret="other")).reason) == (403, "bad_signature")
    assert refused(signed(BODY), body=BODY + b" ").reason == "bad_signature"
    garbled = {**signed(BODY), "X-Courrier-Signature": "sha256=é" + "0" * 63}
    assert refused(garbled).reason == "bad_signature"
    at = int(time.time())
    moved = {**signed(BODY, timestamp=at), "X-Courrier-Timestamp": str(at + 1)}
    assert refused(moved).reason == "bad_signature", "the timestamp is part of what is signed"


def test_a_rotated_secret_may_sign_twice() -> None:
    at = int(time.time())
    both = f"{sign('old', at, BODY)}, {sign(SECRET, at, BODY)}"
    assert VERIFIER.verify({"x-courrier-timestamp": str(at), "x-courrier-signature": both}, BODY, at)


@pytest.mark.parametrize(("age_s", "reason"), [(301, "stale_timestamp"), (-301, "stale_timestamp"), (299, None), (-299, None)])
def test_the_replay_window(age_s: int, reason: str | None) -> None:
    now = 1_800_000_000
    headers = signed(BODY, timestamp=now - age_s)
    if reason is None:
        assert VERIFIER.verify(lower(headers), BODY, now)
    else:
        rejected = refused(headers, now=now)
        assert (rejected.status, rejected.reason) == (401, reason)
        assert ("ago" if age_s > 0 else "ahead") in rejected.message


@given(st.binary(max_size=300), st.text(max_size=100))
def test_nothing_but_the_right_signature_passes(body: bytes, forged: str) -> None:
    headers = {"x-courrier-timestamp": "1800000000", "x-courrier-signature": forged}
    with pytest.raises(Rejected):
        VERIFIER.verify(headers, body, 1_800_000_000)


def test_the_replay_guard_claims_confirms_releases_and_forgets() -> None:
    guard = ReplayGuard(ttl_s=600, capacity=3)
    assert guard.claim("a", 0) is Claim.NEW
    assert guard.claim("a", 1) is Claim.PENDING
    guard.release("a")
    assert guard.claim("a", 2) is Claim.NEW
    guard.confirm("a", 2)
    assert guard.claim("a", 3) is Claim.SEEN and len(guard) == 1
    assert guard.claim("a", 603) is Claim.NEW, "forgotten after its time to live"


def test_the_replay_guard_stays_within_its_capacity() -> None:
    guard = ReplayGuard(ttl_s=600, capacity=3)
    for key in "abcde":
        assert guard.claim(key, 0) is Claim.NEW
        guard.confirm(key, 0)
    assert len(guard) == 3 and guard.evicted == 2
    assert guard.claim("a", 1) is Claim.NEW and guard.claim("e", 1) is Claim.SEEN


def test_a_delivery_report_becomes_a_provider_event_keyed_by_the_provider_id() -> None:
    event = sim_event(error_code="30003", status="UNDELIVERED")
    body = body_of(event)
    parsed = sim.parse(body)
    [output] = parsed.outputs
    assert (output.topic, output.key) == ("provider-events", "agg-1")
    assert output.value == {
        "provider": "http:sim", "provider_message_id": "agg-1", "kind": "DELIVERY_REPORT", "raw_status": "UNDELIVERED",
        "error_code": "30003", "raw": body.decode(), "occurred_at": datetime(2026, 3, 2, 9, 3, 4, tzinfo=timezone.utc),
        "dispatched": None, "message_id": "m-1",
    }
    assert parsed.event_id == event["event_id"]


def test_a_read_report_and_an_inbound_message() -> None:
    [read] = sim.parse(body_of(sim_event("read", status=None, message_id=None))).outputs
    assert (read.key, read.value["kind"], read.value["raw_status"], read.value["provider"]) == ("m-1", "READ_REPORT", "READ", "http:sim")
    [inbound] = sim.parse(body_of(sim_event("inbound"))).outputs
    assert (inbound.topic, inbound.key) == ("inbound", "+33612345678")
    assert inbound.value == {"from_e164": "+33612345678", "to_sender_id": "COURRIER", "text": "STOP", "media_urls": [],
                             "provider": "http:sim", "provider_message_id": "mo-1",
                             "received_at": datetime(2026, 3, 2, 9, 3, 4, tzinfo=timezone.utc)}


@pytest.mark.parametrize(("body", "reason", "says"), [
    (b"{not json", "malformed_json", "line 1 column 2"),
    (b"[1, 2]", "malformed_json", "JSON object"),
    (b"\xff\xfe{}", "malformed_json", "UTF-8"),
    (body_of({**sim_event(), "colour": "red"}), "unknown_field", "colour"),
    (body_of(sim_event(status=None)), "invalid_event", "needs a status"),
    (body_of(sim_event(message_id=None, client_ref=None)), "invalid_event", "message_id or client_ref"),
    (body_of(sim_event(occurred_at="2026-03-02T09:03:04")), "invalid_event", "occurred_at"),
    (body_of(sim_event(type="bounce")), "invalid_event", "type"),
    (body_of(sim_event(status=7)), "invalid_event", "status"),
    (body_of(sim_event("inbound", text=None)), "invalid_event", "needs text"),
    (body_of(sim_event("inbound", **{"from": "0612345678"})), "invalid_event", "E.164"),
    (body_of({k: v for k, v in sim_event().items() if k != "event_id"}), "invalid_event", "event_id"),
])
def test_bodies_out_of_contract_are_refused_with_a_reason(body: bytes, reason: str, says: str) -> None:
    with pytest.raises(Rejected) as caught:
        sim.parse(body)
    assert (caught.value.status, caught.value.reason) == (400, reason)
    assert says in caught.value.message
