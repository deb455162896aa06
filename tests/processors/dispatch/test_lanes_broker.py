"""`courrier run dispatch` as the catalog builds it: one runner per lane in one process, through the broker and the SMSC.
OTPs on their lane's topic leave while a campaign sender's queue waits out its pace on the other."""
from __future__ import annotations

import threading
import time

import pytest

from common.config import Settings
from courrier.client import CourrierClient
from processors.catalog import _dispatch
from processors.runtime.lanes import BadLanes, parse_lanes, run_lanes
from topology.topics import rendered_topic
from processors.runtime.runner import RunnerOptions
from dispatch_broker import Outcomes, publish, rendered  # noqa: I001 (same folder)


def test_each_lane_has_its_topic() -> None:
    assert (rendered_topic("TRANSACTIONAL"), rendered_topic("MARKETING")) == ("rendered-transactional", "rendered")
    assert parse_lanes(" Transactional , marketing") == ["TRANSACTIONAL", "MARKETING"]


@pytest.mark.parametrize("text", ["", "urgent", "marketing,marketing"])
def test_bad_lanes_are_one_clear_error(text: str) -> None:
    with pytest.raises(BadLanes, match="COURRIER_LANES"):
        parse_lanes(text)


def test_otps_leave_on_their_lane_while_a_paced_campaign_waits(topic_settings: Settings) -> None:
    settings = topic_settings.model_copy(update={"dispatch_hold_s": 0.5})
    numbers = [f"+336125{i:05d}" for i in range(40)]
    client = CourrierClient(settings, source="test")
    for number in numbers:
        client.record_consent(number, "promotions", True, source="form")
    client.flush()
    lanes, tables = _dispatch(settings)
    assert [(lane.lane, lane.stage.inputs) for lane in lanes] == [("TRANSACTIONAL", ("rendered-transactional",)),
                                                                 ("MARKETING", ("rendered",))]
    stop = threading.Event()
    thread = threading.Thread(target=run_lanes, args=(lanes, tables, settings, RunnerOptions(batch_size=500)),
                              kwargs={"until": stop.is_set}, daemon=True)
    outcomes = Outcomes(settings)
    campaign = [rendered(f"promo-{i:02d}", n, "PROMO", rate=2.0) for i, n in enumerate(numbers)]  # 20 s at 2 segments/s
    otps = [rendered(f"otp-{i}", f"+336126{i:05d}", "COURRIER", rate=10.0, lane="TRANSACTIONAL", text=f"Code {i}") for i in range(5)]
    try:
        thread.start()
        time.sleep(5)  # both runners joined their groups and loaded the tables
        publish(settings, "rendered", campaign)
        time.sleep(1.5)
        publish(settings, rendered_topic("TRANSACTIONAL"), otps)
        found = outcomes.wait({o["context"]["message_id"] for o in otps}, timeout_s=30)
    finally:
        stop.set()
        thread.join(60)
        outcomes.close()
    assert all(found[o["context"]["message_id"]][0][0] == "dispatched" for o in otps)
    sent_promos = [m for m in found if m.startswith("promo-")]
    assert len(sent_promos) < len(campaign) / 2, "the OTPs waited for the campaign"
