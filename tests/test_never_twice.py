"""Invariant 3 (once) under crashes: dispatch SIGKILLed at random moments while OTPs flow through the whole chain.

Submissions are counted at the SMSC (its journal of accepted submit_sm), not in our own topics. The
10k-message run is ``courrier bench chaos``; the suite runs a smaller one.
"""
from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from courrier.chaos import chaos_numbers, run_chaos
from courrier.config import Settings


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_chaos_numbers_are_distinct_valid_mobiles_from_any_base(seed: int) -> None:
    numbers = chaos_numbers(300, random.Random(seed))
    assert len(set(numbers)) == 300
    assert all(phonenumbers.number_type(phonenumbers.parse(n)) == phonenumbers.PhoneNumberType.MOBILE for n in numbers)


def test_dispatch_killed_at_random_loses_nothing_and_submits_nothing_twice(topic_settings: Settings, tmp_path: Path) -> None:
    report = run_chaos(topic_settings, count=1500, kills=3, log_dir=tmp_path, seed=11, timeout_s=300)
    assert report.kills == 3
    assert report.lost == [], f"{len(report.lost)} messages without a terminal receipt"
    assert report.duplicated_receipts == []
    assert report.duplicate_submissions == {}, "numbers the SMSC accepted more than one submit_sm for"
    delivered = report.outcomes[("DELIVERED", None)]
    unknown = report.outcomes[("FAILED", "submission_outcome_unknown")]
    assert delivered + unknown == 1500 and report.submitted >= delivered
