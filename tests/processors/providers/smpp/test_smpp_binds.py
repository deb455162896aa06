"""Several binds per provider, each with its own window: traffic spreads over them, and when one bind's peer goes away
the others carry on (against an SMSC of this module's own, each bind through a proxy of its own)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from common.config import Settings
from processors.dispatch.provider import Submission
from processors.providers.smpp.adapter import BindPlan, SmppProvider
from processors.providers.smpp.fake import SmscProxy
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smsc() -> Iterator[Settings]:
    with private_smsc(Settings()) as settings:
        yield settings


def ack(item) -> None:  # noqa: ANN001 (a DeliveryReport or an InboundSms)
    if item.ack is not None:
        item.ack()


def sms(i: int) -> Submission:
    return Submission(str(uuid.uuid4()), "COURRIER", "ALPHANUMERIC", f"+336123{i:05d}", f"bind test {i}", "GSM7")


def test_binds_to_two_hosts_share_the_traffic_and_survive_one_going_away(smsc: Settings) -> None:
    with SmscProxy("127.0.0.1", smsc.smpp_port) as first, SmscProxy("127.0.0.1", smsc.smpp_port) as second:
        provider = SmppProvider("127.0.0.1", smsc.smpp_port, smsc.smpp_system_id, smsc.smpp_password, on_report=ack,
                                on_inbound=ack, binds=[BindPlan(port=first.port, window=2), BindPlan(port=second.port, window=8)],
                                bind_attempts=1, bind_timeout_s=2)
        provider.open()
        try:
            assert all(r.accepted for r in provider.submit_many([sms(i) for i in range(100)], timeout_s=20))
            assert first.submits[0] and second.submits[0] and first.submits[0] < second.submits[0]  # windows of 2 and 8
            first.stop()
            results = provider.submit_many([sms(i) for i in range(100, 160)], timeout_s=20)
            assert provider.ready
        finally:
            provider.close()
    # Parts in flight on the bind that went away may have lost their answers; none is sent twice, the rest go through.
    assert all(r.accepted or r.detail == "connection_lost" for r in results)
    assert sum(r.accepted for r in results) >= len(results) - 2
