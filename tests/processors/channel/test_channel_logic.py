"""Channel policies through the stage: channel, fallback reason, suppression, keys and schemas."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.channel.logic import choose_channel, no_rcs_provider
from processors.channel.stage import ChannelStage
from processors.runtime.stage import Output, RecordMeta

NOW = datetime(2026, 3, 2, 9, 1, tzinfo=timezone.utc)
META = RecordMeta(topic="consent-checked", partition=0, offset=0, key="k", now=NOW)


def lookup(answer: bool | None, asked: list[str] | None = None):
    def capable(e164: str) -> bool | None:
        if asked is not None:
            asked.append(e164)
        return answer
    return capable


def only(outputs: list[Output]) -> Output:
    assert len(outputs) == 1
    return outputs[0]


def test_stage_contract() -> None:
    stage = ChannelStage()
    assert (stage.name, stage.inputs) == ("channel", ("consent-checked",))


def test_default_lookup_knows_nothing() -> None:
    assert no_rcs_provider("+33612345678") is None


@pytest.mark.parametrize(("policy", "region", "capable", "channel", "fallback"), [
    ("SMS", "FR", True, "SMS", None),
    ("MMS", "US", None, "MMS", None),
    ("MMS", "CA", None, "MMS", None),
    ("MMS", "FR", None, "SMS", "mms_unsupported_in_region"),
    ("RCS_WITH_SMS_FALLBACK", "FR", True, "RCS", None),
    ("RCS_WITH_SMS_FALLBACK", "FR", False, "SMS", "rcs_not_capable"),
    ("RCS_WITH_SMS_FALLBACK", "FR", None, "SMS", "rcs_capability_unknown"),
    ("RCS_ONLY", "US", True, "RCS", None),
])
def test_policies(checked_event, assert_valid, policy: str, region: str, capable: bool | None,
                  channel: str, fallback: str | None) -> None:
    event = checked_event(region, channel_policy=policy)
    out = only(ChannelStage(rcs_capable=lookup(capable)).process(event, META))
    assert_valid(out)
    assert (out.topic, out.key) == ("channel-resolved", event["recipient"]["e164"])
    assert (out.value["channel"], out.value["fallback_reason"]) == (channel, fallback)
    for field in ("context", "recipient", "template_id", "variables", "channel_policy", "expires_at", "locale"):
        assert out.value[field] == event[field]


@pytest.mark.parametrize(("capable", "detail"), [
    (False, "policy RCS_ONLY and the recipient is not RCS capable"),
    (None, "policy RCS_ONLY and the recipient has an unknown RCS capability"),
])
def test_rcs_only_without_capability_is_suppressed(checked_event, assert_valid, capable: bool | None, detail: str) -> None:
    event = checked_event("SE", channel_policy="RCS_ONLY")
    out = only(ChannelStage(rcs_capable=lookup(capable)).process(event, META))
    assert_valid(out)
    assert (out.topic, out.key) == ("receipt", "+46701234567")
    assert (out.value["status"], out.value["reason"], out.value["detail"]) == ("SUPPRESSED", "rcs_unsupported", detail)
    assert (out.value["terminal"], out.value["stage"], out.value["occurred_at"]) == (True, "channel", NOW)


def test_capability_is_asked_only_for_rcs_policies() -> None:
    asked: list[str] = []
    for policy in ("SMS", "MMS"):
        choose_channel(policy, "US", "+12015550123", lookup(True, asked))
    assert asked == []
    choose_channel("RCS_ONLY", "US", "+12015550123", lookup(True, asked))
    assert asked == ["+12015550123"]


def test_mms_regions_are_configurable(checked_event) -> None:
    stage = ChannelStage(mms_regions=frozenset({"FR"}))
    assert only(stage.process(checked_event("FR", channel_policy="MMS"), META)).value["channel"] == "MMS"
    assert only(stage.process(checked_event("US", channel_policy="MMS"), META)).value["fallback_reason"] == "mms_unsupported_in_region"


def test_unknown_policy_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown channel policy"):
        choose_channel("CARRIER_PIGEON", "FR", "+33612345678", no_rcs_provider)


def test_rcs_with_fallback_gets_an_sms_sender_and_the_request_window_or_the_setting(checked_event, assert_valid) -> None:
    stage = ChannelStage(rcs_capable=lookup(True), sms_fallback_after_s=300)
    default = only(stage.process(checked_event("FR", channel_policy="RCS_WITH_SMS_FALLBACK"), META))
    own = only(stage.process(checked_event("FR", channel_policy="RCS_WITH_SMS_FALLBACK", sms_fallback_after_s=30), META))
    assert_valid(default)
    assert_valid(own)
    assert default.value["sms_fallback"]["after_s"] == 300 and own.value["sms_fallback"]["after_s"] == 30
    assert default.value["sms_fallback"]["sender"]["type"] in ("ALPHANUMERIC", "SHORT_CODE", "TOLL_FREE", "LONG_CODE")
    for policy, capable in (("RCS_ONLY", True), ("RCS_WITH_SMS_FALLBACK", False), ("SMS", None)):
        event = checked_event("FR", channel_policy=policy)
        assert only(ChannelStage(rcs_capable=lookup(capable)).process(event, META)).value["sms_fallback"] is None
