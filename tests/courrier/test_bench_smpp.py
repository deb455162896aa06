"""``courrier bench smpp`` on a small count against an SMSC of this test's own: both loops measured, every submit
answered and journaled, and no session left bound afterwards."""
from __future__ import annotations

import time

import pytest

from common.config import Settings
from courrier.bench_smpp import bench_smpp
from infra.smsc_control import SmscControl
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration


def test_both_loops_run_and_leave_nothing_bound(capsys: pytest.CaptureFixture[str]) -> None:
    with private_smsc(Settings()) as settings:
        bare, provider = bench_smpp(settings, count=300, window=5, batch=50, rounds=1)
        control = SmscControl.from_settings(settings)
        deadline = time.monotonic() + 10
        while control.stats()["sessions"] and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = control.stats()
    assert (bare.count, provider.count) == (300, 300) and bare.rate > 0 and provider.rate > 0
    assert stats["sessions"] == 0 and stats["total"] == 2 * (300 + 200)  # each loop's warm-up and timed run
    assert "SmppProvider / bare loop =" in capsys.readouterr().out
