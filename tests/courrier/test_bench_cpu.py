"""The CPU split of a bench run: each process's CPU time between two readings, from /proc."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from courrier.bench_cpu import CpuClock, CpuSplit, cpu_seconds, machine_seconds

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_process_s_cpu_time_is_what_it_burned_between_the_readings() -> None:
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        clock = CpuClock({"me": os.getpid(), "sleeper": idle.pid, "gone": 2**22 + 7})
        clock.start()
        _burn(0.3)
        split = clock.stop()
    finally:
        idle.kill()
        idle.wait()
    assert set(split.by_process) == {"me", "sleeper"}  # a pid that does not exist is left out, not zero
    assert 0.2 <= split.by_process["me"] <= 1.0
    assert split.by_process["sleeper"] < 0.1
    assert split.machine is not None and split.machine >= 0.2


def test_per_message_figures_put_the_costliest_first() -> None:
    split = CpuSplit({"kafka": 2.0, "receipt": 3.0, "channel": 0.5}, machine=6.0)
    assert split.per_message_us(10_000) == [("receipt", 300.0), ("kafka", 200.0), ("channel", 50.0)]


def test_readings_of_what_does_not_exist_are_none() -> None:
    assert cpu_seconds(2**22 + 7) is None
    assert cpu_seconds(os.getpid()) is not None and machine_seconds() is not None
