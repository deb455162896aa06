"""Consent's lanes (no broker: the harness): a transactional message's records take its lane's topics, whichever lane's
consumer read it; a deferred one waits in its lane's delay topic and comes back to its lane's topic."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from processors.consent.stage import ConsentStage
from processors.runtime import policy
from processors.runtime.testing import StageHarness
from topology.topics import delay_topic, lane_inputs

NOW = datetime(2031, 5, 6, 9, 0, tzinfo=timezone.utc)
OTP = {"context": {"lane": "TRANSACTIONAL"}}


def harness(inputs: tuple[str, ...]) -> StageHarness:
    return StageHarness(ConsentStage({}), clock=lambda: NOW, inputs=inputs)


def test_consent_s_transactional_lane_writes_the_lane_s_topic(request_event: Callable[..., dict[str, Any]]) -> None:
    lane = harness(lane_inputs(ConsentStage.inputs, "TRANSACTIONAL"))
    lane.feed("send-requested-transactional", request_event(), key="+33612345678")
    out = lane.run()
    assert [r.event["context"]["message_id"] for r in out["consent-checked-transactional"]] == ["m-1"]
    assert "consent-checked" not in out


def test_an_otp_read_from_send_requested_still_takes_its_lane(request_event: Callable[..., dict[str, Any]]) -> None:
    # Written before the lanes split, or by an app producing to send-requested directly: read by the marketing lane.
    marketing = harness(ConsentStage.inputs)
    marketing.feed("send-requested", request_event(), key="+33612345678")
    assert set(marketing.run()) >= {"consent-checked-transactional"}


def test_a_deferred_otp_waits_in_its_lane_and_comes_back_to_its_lane_s_topic(request_event: Callable[..., dict[str, Any]]) -> None:
    lane = harness(("send-requested-transactional",))
    lane.feed("send-requested-transactional", request_event(send_at=NOW + timedelta(hours=1)), key="+33612345678")
    out = lane.run()
    [held] = out[delay_topic("send-requested", OTP)]
    assert held.topic == "scheduled-transactional"
    assert held.header(policy.TARGET_TOPIC) == "send-requested-transactional"
