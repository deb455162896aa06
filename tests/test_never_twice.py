"""Invariants 1, 2 and 3 under crashes and provider faults: ``courrier bench chaos``, small.

Submissions are counted at the SMSC and the simulator (their own journals), not in our own topics. The
100,000-request run is ``courrier bench chaos``; the suite runs a small one.
"""
from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from common.config import Settings
from courrier.chaos import ChaosPlan, chaos_numbers, run_chaos
from courrier.chaos_supervisor import STAGES


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_chaos_numbers_are_distinct_valid_mobiles_from_any_base(seed: int) -> None:
    numbers = chaos_numbers(300, random.Random(seed))
    assert len(set(numbers)) == 300
    assert all(phonenumbers.number_type(phonenumbers.parse(n)) == phonenumbers.PhoneNumberType.MOBILE for n in numbers)


def test_chaos_every_message_ends_once_and_nothing_is_sent_twice_or_after_stop(topic_settings: Settings, tmp_path: Path) -> None:
    """The small version of ``courrier bench chaos``: every stage SIGKILLed in rotation, the broker restarted once, the
    SMSC and the HTTP provider misbehaving; counted from outside, every message has exactly one terminal receipt."""
    plan = ChaosPlan(count=400, rate=50, kill_every_s=3.0, seed=11, validity_s=60, report_grace_s=3, rcs_fallback_after_s=8,
                     timeout_s=300)
    report = run_chaos(topic_settings, plan, tmp_path)
    assert sum(report.kills.values()) >= 7 and set(report.kills) == set(STAGES), report.kills
    assert report.without_terminal == [], f"{len(report.without_terminal)} messages without a terminal receipt"
    assert report.several_terminal == [], f"{len(report.several_terminal)} messages with several terminal receipts"
    assert report.repeated_receipts == 0
    assert report.duplicate_submits == {}, "messages the SMSC or the simulator accepted more than once"
    assert report.sends_after_stop == {}, "marketing SMS submitted after the recipient's STOP was readable"
    assert report.terminal_counts[1] == 400 and report.stops > 0 and report.submitted_smsc > 0 and report.submitted_sim > 0
    assert report.broker_restarts == (0 if topic_settings.kafka_bootstrap_servers else 1)
