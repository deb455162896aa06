"""Priority lanes through the whole chain: a transactional message's records take its lane's topic at every hop; each
chain stage's lane reads its own topics on a consumer group of its own."""
from __future__ import annotations

import pytest

from common.config import Settings
from processors.runtime.lanes import BadLanes, group_id, lane_options, lane_stage, parse_lanes
from processors.runtime.runner import RunnerOptions
from topology.topics import BY_NAME, TRANSACTIONAL_LANE, lane_inputs, lane_topic

OTP = {"context": {"lane": "TRANSACTIONAL"}}
PROMO = {"context": {"lane": "MARKETING"}}


def test_each_hop_of_the_chain_has_a_transactional_topic_of_the_same_schema_and_key() -> None:
    for hop, lane_variant in TRANSACTIONAL_LANE.items():
        base, variant = BY_NAME[hop], BY_NAME[lane_variant]
        assert (variant.value_schema, variant.key, variant.readers) == (base.value_schema, base.key, base.readers)


def test_a_record_goes_to_its_lane_s_topic_of_a_hop_and_only_there() -> None:
    assert [lane_topic(hop, OTP) for hop in TRANSACTIONAL_LANE] == list(TRANSACTIONAL_LANE.values())
    assert [lane_topic(hop, PROMO) for hop in TRANSACTIONAL_LANE] == list(TRANSACTIONAL_LANE)
    assert lane_topic("receipt", OTP) == "receipt"  # outside the chain: one topic for every lane
    assert lane_topic("send-requested", {"context": {}}) == lane_topic("send-requested", b"raw") == "send-requested"
    assert lane_topic("rendered-transactional", PROMO) == "rendered-transactional"  # a lane's topic is never moved again


def test_the_transactional_lane_reads_its_own_topics_and_nothing_twice() -> None:
    assert lane_inputs(("send-requested", "conversions"), "MARKETING") == ("send-requested", "conversions")
    assert lane_inputs(("send-requested", "conversions"), "TRANSACTIONAL") == ("send-requested-transactional",)
    # One runner serving every lane (a runner built without one: tools, tests) reads both.
    assert lane_inputs(("send-requested", "conversions"), None) == ("send-requested", "conversions", "send-requested-transactional")
    settings = Settings(topic_prefix="p-")
    assert group_id(settings, "consent", "MARKETING") == "p-courrier-consent"  # the historical group: offsets stay valid
    assert group_id(settings, "consent", "TRANSACTIONAL") == "p-courrier-consent-transactional"


@pytest.mark.parametrize("text", ["", "express", "marketing,marketing"])
def test_lanes_are_named_once_each(text: str) -> None:
    with pytest.raises(BadLanes, match="COURRIER_LANES"):
        parse_lanes(text)


def test_the_transactional_lane_takes_a_record_at_once_and_the_marketing_lane_waits_to_fill_its_batch() -> None:
    settings = Settings(topic_prefix="p-", metrics_port=9100)

    class Consent:
        name = "consent"
        inputs = ("send-requested",)

    transactional = lane_options(RunnerOptions(), lane_stage(settings, "consent", "TRANSACTIONAL", Consent()), 0, settings)
    marketing = lane_options(RunnerOptions(), lane_stage(settings, "consent", "MARKETING", Consent()), 1, settings)
    assert (transactional.eager, transactional.batch_timeout_s, transactional.inputs) == (True, 0.01, ("send-requested-transactional",))
    assert (marketing.eager, marketing.batch_timeout_s, marketing.inputs) == (False, 0.05, ("send-requested",))
    assert (transactional.metrics_port, marketing.metrics_port) == (9100, 9101)
    assert (transactional.group_id, marketing.group_id) == ("p-courrier-consent-transactional", "p-courrier-consent")
