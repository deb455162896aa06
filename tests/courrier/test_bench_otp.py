"""``courrier bench otp`` on a small paced campaign against an SMSC of this test's own: both runs (OTPs in their lane,
then behind the campaign) send the whole campaign over several short codes and every OTP, and leave no topic behind.
No assertion on time."""
from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from courrier.bench_otp import bench_otp, campaign_sender
from courrier.config import Settings
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration
CAMPAIGN, OTPS = 300, 5


def _bench_topics(settings: Settings) -> set[str]:
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    return {name for name in admin.list_topics(timeout=10).topics if name.startswith("bench-otp-")}


def test_a_paced_campaign_drains_while_otps_go_through_their_lane(real_parts: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    before = _bench_topics(real_parts)
    with private_smsc(real_parts) as settings:
        lane, behind = bench_otp(settings, campaign=CAMPAIGN, otps=OTPS, interval_s=0.02, pacing=True, campaign_senders=3)
    assert (lane.mode, behind.mode) == ("their own lane", "the campaign's topic")
    for figure in (lane, behind):
        assert figure.campaign == CAMPAIGN and 1 <= len(figure.latencies) <= OTPS and figure.drain_s > 0
    assert "pacing on, 3 short codes" in " ".join(capsys.readouterr().out.split())  # however the table's title wraps
    assert _bench_topics(real_parts) <= before  # this run's topics are gone (another session's may still be there)


def test_campaign_senders_are_distinct_short_codes() -> None:
    senders = [campaign_sender(i) for i in range(30)]
    assert len({s["sender_id"] for s in senders}) == 30 and {s["type"] for s in senders} == {"SHORT_CODE"}
