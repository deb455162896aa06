"""Scale-out: two instances of every stage on 12 partitions, then a rebalance mid-run (a third instance of every stage
joins, the first is SIGKILLed for good), under the chaos run's provider faults. Counted from outside (the SMSC's
and the simulator's journals, a plain read_committed reader of receipts): nothing lost, nothing sent twice, nothing
after a STOP. The consent and receipt stages' tables are co-partitioned, so each instance restores the partitions it is
given; the first run of this test, before receipt's inputs were keyed by message id, had two receipt instances close one
message twice."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Settings
from courrier.chaos import ChaosPlan, run_chaos
from courrier.chaos_supervisor import STAGES


@pytest.mark.partitions(12)
def test_two_instances_and_a_rebalance_lose_nothing_and_send_nothing_twice(topic_settings: Settings, tmp_path: Path) -> None:
    plan = ChaosPlan(count=300, rate=40, kill_every_s=0, instances=2, rebalance=True, broker_restart=False, smsc_drops=0,
                     seed=19, validity_s=40, report_grace_s=3, rcs_fallback_after_s=8, timeout_s=300)
    report = run_chaos(topic_settings, plan, tmp_path)
    assert report.rebalances == 1 and sum(report.kills.values()) == 0
    assert report.without_terminal == [], f"{len(report.without_terminal)} messages without a terminal receipt"
    assert report.several_terminal == [], f"{len(report.several_terminal)} messages with several terminal receipts: {report.several_examples}"
    assert report.repeated_receipts == 0
    assert report.duplicate_submits == {}, "messages the SMSC or the simulator accepted more than once"
    assert report.sends_after_stop == {}, "marketing SMS submitted after the recipient's STOP was readable"
    assert report.terminal_counts[1] == 300 and report.submitted_smsc > 0 and report.submitted_sim > 0
    assert set(report.restarts_after_exit) <= set(STAGES) and not report.restarts_after_exit, report.restarts_after_exit
