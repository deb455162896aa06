"""``courrier bench otp`` on a small paced campaign against an SMSC of this test's own: from ``rendered`` both runs
(OTPs in their lane, then behind the campaign), from ``send-requested`` the lane run and the whole chain (lanes in one process per stage, then apart), each send the
whole campaign over several short codes and every OTP, print every figure and leave no topic or consumer group behind.
No assertion on time."""
from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient

from common.config import Settings
from courrier.bench_otp import bench_otp
from courrier.bench_otp_measure import OtpFigure, campaign_sender
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration
CAMPAIGN, OTPS = 300, 5


def _left(settings: Settings, figures: list[OtpFigure]) -> tuple[list[str], list[str]]:
    """The topics and consumer groups still listed under these runs' prefixes, once the broker has had up to 30 s to
    finish deleting them (a deleted topic may stay in the metadata a moment)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    prefixes = tuple(f.prefix for f in figures)
    deadline = time.monotonic() + 30
    while True:
        topics = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefixes)]
        groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid if g.group_id.startswith(prefixes)]
        if not (topics or groups) or time.monotonic() > deadline:
            return topics, groups
        time.sleep(1)


def _complete(figure: OtpFigure) -> None:
    assert figure.campaign == CAMPAIGN and 1 <= len(figure.latencies) <= OTPS and figure.drain_s > 0, figure
    assert all(latency > 0 for latency in figure.latencies)


def test_a_paced_campaign_drains_while_otps_go_through_their_lane(real_parts: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with private_smsc(real_parts) as settings:
        figures = lane, behind = bench_otp(settings, campaign=CAMPAIGN, otps=OTPS, interval_s=0.02, pacing=True, campaign_senders=3,
                                           origin="rendered")
    assert (lane.mode, behind.mode) == ("their own lane", "the campaign's topic")
    assert (lane.origin, behind.origin) == ("rendered-transactional", "rendered")
    for figure in (lane, behind):
        _complete(figure)
    assert "pacing on, 3 short codes" in " ".join(capsys.readouterr().out.split())  # however the table's title wraps
    assert len({f.prefix for f in figures}) == 2 and _left(real_parts, figures) == ([], [])


def test_from_send_requested_the_whole_chain_beside_the_dispatch_hop(real_parts: Settings, capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich's width: one line per table row
    with private_smsc(real_parts) as settings:
        figures = lane, chain, split = bench_otp(settings, campaign=CAMPAIGN, otps=OTPS, interval_s=0.02, pacing=True, campaign_senders=3)
    assert (lane.origin, chain.origin, split.origin) == ("rendered-transactional", "send-requested", "send-requested")
    assert (chain.mode, split.mode) == ("the whole chain, a process per stage", "the whole chain, a process per stage and lane")
    for figure in figures:
        _complete(figure)
    out = capsys.readouterr().out
    for header in ("OTPs from", "OTP p50 ms", "OTP p95 ms", "OTP p99 ms", "OTP max ms"):
        assert header in out
    rows = {line.split("│")[2].strip(): line for line in out.splitlines() if line.count("│") > 9}
    for figure in figures:  # each run's row, with its p50, p95 and p99
        assert all(f" {figure.percentile(p) * 1000:.0f} " in rows[figure.mode] for p in (50, 95, 99)), rows
    for figure in (chain, split):
        assert f"OTP p99 from send-requested to dispatched ({figure.mode}): {figure.percentile(99) * 1000:.0f} ms" in out
        # Every hop of every OTP found by its records' timestamps, each hop taking some time, the hops adding up to
        # about the whole (the bench's clock starts just before the request's timestamp and stops after dispatched's).
        assert list(figure.hops) == ["send-requested-transactional → consent-checked-transactional",
                                     "consent-checked-transactional → channel-resolved-transactional",
                                     "channel-resolved-transactional → rendered-transactional", "rendered-transactional → submissions",
                                     "submissions → dispatched"]
        assert all(len(seconds) == len(figure.latencies) and min(seconds) >= 0 for seconds in figure.hops.values())
        assert sum(sorted(s)[0] for s in figure.hops.values()) <= max(figure.latencies)
        assert f"OTP hop by hop ({figure.mode})" in out
    assert len({f.prefix for f in figures}) == 3 and _left(real_parts, figures) == ([], [])


def test_campaign_senders_are_distinct_short_codes() -> None:
    senders = [campaign_sender(i) for i in range(30)]
    assert len({s["sender_id"] for s in senders}) == 30 and {s["type"] for s in senders} == {"SHORT_CODE"}
