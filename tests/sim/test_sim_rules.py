"""The simulator's rules without a server: capability suffixes, fault validation, the bounded store, event plans and
their legacy shape, signatures."""
from __future__ import annotations

import hashlib
import hmac
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sim import events
from sim.faults import Faults, RcsCapability
from sim.store import MessageStore, SimMessage

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def message(provider: str = "aggregator", ref: str = "m-1") -> SimMessage:
    return SimMessage("agg-1" if provider == "aggregator" else ref, provider, ref, "rcs" if provider == "rbm" else "sms",
                      "+33612345671", "COURRIER", 1, NOW)


def legacy(planned: list[events.Planned], of: SimMessage | None = None) -> list[dict[str, object]]:
    """The legacy events of a plan, in plan order."""
    return [events.legacy_event(of or message(), p.step) for p in planned]


def test_capability_by_suffix_then_default() -> None:
    default = RcsCapability()
    assert default.capable("+33612345671") and not default.capable("+33612345670") and not default.capable("+33612345675")
    flipped = RcsCapability(default=False, not_capable_suffixes=[], capable_suffixes=["42"])
    assert flipped.capable("+33612345642") and not flipped.capable("+33612345671")


def test_faults_reject_unknown_keys_and_rates_that_add_up_past_one() -> None:
    with pytest.raises(ValidationError, match="error_rate \\+ transient_error_rate"):
        Faults().updated({"error_rate": 0.6, "transient_error_rate": 0.5})
    with pytest.raises(ValidationError, match="silent_rate"):
        Faults().updated({"undelivered_rate": 0.7, "silent_rate": 0.7})
    with pytest.raises(ValidationError, match="eror_rate"):
        Faults().updated({"eror_rate": 0.1})
    changed = Faults(latency_ms=5).updated({"down": True})
    assert changed.down and changed.latency_ms == 5


def test_store_counts_every_attempt_keeps_apis_apart_and_stays_bounded() -> None:
    store = MessageStore(max_messages=2)
    first, created = store.submit("aggregator", "a", "sms", "+33612345671", "X", 1, NOW)
    again, created_again = store.submit("aggregator", "a", "sms", "+33612345671", "X", 1, NOW)
    rcs, rcs_created = store.submit("rbm", "a", "rcs", "+33612345671", None, 1, NOW)
    assert created and not created_again and again is first and rcs_created and rcs.id == "a"
    assert store.submissions() == {"a": 3}
    assert store.submissions_by_provider() == {"rbm": {"a": 1}, "aggregator": {"a": 2}, "twilio": {}}
    store.submit("aggregator", "b", "sms", "+33612345671", "X", 1, NOW)
    assert len(store) == 2 and store.evicted == 1 and store.find("aggregator", "a") is None
    assert store.submissions(prefix="b") == {"b": 1} and store.total == 4


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"event_id":"e"}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert events.signature("secret", 1700000000, body) == f"v1={expected}"
    headers = events.signed_headers("secret", 1700000000, body)
    assert headers["X-Courrier-Timestamp"] == "1700000000" and headers["X-Courrier-Signature"] == f"v1={expected}"


def test_a_delivered_rcs_message_is_then_read_and_an_sms_only_delivered() -> None:
    rng = random.Random(1)
    sms = events.plan(message(), Faults(delivery_delay_ms=200), rng, NOW)
    assert [(e["type"], e["status"]) for e in legacy(sms)] == [("delivery", "DELIVERED")] and sms[0].delay_s == 0.2
    rbm = message("rbm")
    rcs = events.plan(rbm, Faults(delivery_delay_ms=200, read_delay_ms=300), rng, NOW)
    shaped = legacy(rcs, rbm)
    assert [(e["type"], e["status"], p.delay_s) for e, p in zip(shaped, rcs)] == [("delivery", "DELIVERED", 0.2), ("read", "READ", 0.5)]
    assert shaped[0]["message_id"] == shaped[0]["client_ref"] == "m-1" and shaped[0]["event_id"] == rcs[0].step.event_id
    assert set(shaped[0]) == {"event_id", "type", "provider", "message_id", "client_ref", "status", "error_code", "from", "to",
                              "text", "occurred_at"}
    assert shaped[0]["occurred_at"] == "2026-03-02T09:00:00.200Z"


def test_twilio_always_reports_sent_first_unless_its_message_expires_in_the_queue() -> None:
    sent = events.plan(message("twilio"), Faults(delivery_delay_ms=200), random.Random(5), NOW)
    assert [(p.step.status, p.delay_s) for p in sent] == [("SENT", 0.1), ("DELIVERED", 0.2)]
    expired = events.plan(message("twilio"), Faults(expired_rate=1), random.Random(5), NOW)
    assert [p.step.status for p in expired] == ["EXPIRED"]


def test_outcomes_and_duplicates_follow_their_rates() -> None:
    rng = random.Random(2)
    undelivered = message()
    assert [(e["status"], e["error_code"]) for e in legacy(events.plan(undelivered, Faults(undelivered_rate=1), rng, NOW))] == [
        ("UNDELIVERED", events.UNDELIVERED_CODE)]
    assert undelivered.status(NOW) == "accepted" and undelivered.status(datetime(2026, 3, 3, tzinfo=timezone.utc)) == "undelivered"
    assert events.plan(message(), Faults(silent_rate=1), rng, NOW) == []
    doubled = legacy(events.plan(message(), Faults(duplicate_rate=1, sent_events=True), rng, NOW))
    assert [e["status"] for e in doubled] == ["SENT", "SENT", "DELIVERED", "DELIVERED"]
    assert doubled[0] == doubled[1] and doubled[0]["event_id"] != doubled[2]["event_id"]


def test_by_provider_sets_faults_for_one_provider_only() -> None:
    faults = Faults().updated({"delivery_delay_ms": 50, "by_provider": {"rbm": {"silent_rate": 1}}})
    rng = random.Random(4)
    assert events.plan(message("rbm"), faults.for_provider("rbm"), rng, NOW) == []
    assert [(p.step.status, p.delay_s) for p in events.plan(message(), faults.for_provider("aggregator"), rng, NOW)] == [
        ("DELIVERED", 0.05)]
    with pytest.raises(ValidationError):
        Faults().updated({"by_provider": {"rbm": {"silent_rate": 2}}})
    with pytest.raises(ValidationError):
        Faults().updated({"by_provider": {"smpp": {}}})


def test_reorder_posts_the_last_status_first_with_true_times() -> None:
    planned = events.plan(message(), Faults(sent_events=True, reorder=True), random.Random(3), NOW)
    by_posting = sorted(planned, key=lambda p: p.delay_s)
    assert [p.step.status for p in by_posting] == ["DELIVERED", "SENT"]
    assert by_posting[0].step.occurred_at > by_posting[1].step.occurred_at


rates = st.floats(0, 1 / 3)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), undelivered=rates, expired=rates, silent=rates, duplicate=st.floats(0, 1),
       read=st.floats(0, 1), reorder=st.booleans(), sent=st.booleans(), provider=st.sampled_from(["rbm", "aggregator", "twilio"]))
def test_every_plan_has_at_most_one_outcome_and_true_times(seed: int, undelivered: float, expired: float, silent: float,
                                                          duplicate: float, read: float, reorder: bool, sent: bool, provider: str) -> None:
    faults = Faults(undelivered_rate=undelivered, expired_rate=expired, silent_rate=silent, duplicate_rate=duplicate,
                    read_rate=read, reorder=reorder, sent_events=sent)
    planned = events.plan(message(provider), faults, random.Random(seed), NOW)
    distinct = list({p.step.event_id: p.step for p in planned}.values())
    finals = [s for s in distinct if s.status in events.FINAL_STATUSES]
    assert len(finals) == (0 if not planned else 1)
    assert all(p.delay_s >= 0 for p in planned)
    times = [s.occurred_at for s in distinct]
    assert times == sorted(times)  # true times follow the lifecycle, whatever the posting order
    assert all(s.status != "READ" or provider == "rbm" for s in distinct)
    assert all(s.status != "SENT" or provider == "twilio" or (provider == "aggregator" and sent) for s in distinct)


def test_a_message_whose_validity_ends_before_its_delivery_expires_then() -> None:
    faults = Faults(delivery_delay_ms=2_000, sent_events=True)
    late = SimMessage("agg-1", "aggregator", "m-1", "sms", "+33612345671", "X", 1, NOW, expires_at=NOW + timedelta(seconds=1))
    [sent, final] = events.plan(late, faults, random.Random(1), NOW)
    assert (final.delay_s, final.step.status, events.legacy_event(late, final.step)["error_code"]) == (1.0, "EXPIRED", events.EXPIRED_CODE)
    assert sent.step.status == "SENT" and late.outcome == ("EXPIRED", NOW + timedelta(seconds=1))
    in_time = SimMessage("m-2", "rbm", "m-2", "rcs", "+33612345671", None, 1, NOW, expires_at=NOW + timedelta(seconds=3))
    assert events.plan(in_time, faults, random.Random(1), NOW)[0].step.status == "DELIVERED"
    drawn = SimMessage("m-3", "rbm", "m-3", "rcs", "+33612345671", None, 1, NOW, expires_at=NOW)
    assert events.plan(drawn, faults.updated({"undelivered_rate": 1.0}), random.Random(1), NOW)[0].step.status == "UNDELIVERED"
