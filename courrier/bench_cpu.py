"""Where a bench's CPU goes: the CPU time each process spent during a timed run, read from ``/proc``.

A chain's figure alone cannot say whether a stage, the broker or the SMSC is the cost; this can. Each process's user
plus system time is read at the start and at the end of the timed run (so start-up and warm-up are not counted), and
printed per message beside the share of the machine the run had. On a system without ``/proc`` nothing is measured and
nothing is printed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds the process ``pid`` has used so far (threads included), None when unknown."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_seconds() -> float | None:
    """CPU seconds every core of the machine has been busy so far (``/proc/stat``, idle and I/O wait left out)."""
    try:
        values = [int(v) for v in (_PROC / "stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds each named process used between ``start`` and ``stop``, and the machine's busy seconds meanwhile."""

    by_process: dict[str, float]
    machine: float | None

    def per_message_us(self, count: int) -> list[tuple[str, float]]:
        """(process, µs of CPU per message), the costliest first."""
        return sorted(((name, seconds / count * 1e6) for name, seconds in self.by_process.items()), key=lambda row: -row[1])


class CpuClock:
    """Reads the CPU time of named processes now (``start``) and later (``stop``)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._started: dict[str, float] = {}
        self._machine: float | None = None

    def start(self) -> None:
        self._started = {name: seconds for name, pid in self._pids.items() if (seconds := cpu_seconds(pid)) is not None}
        self._machine = machine_seconds()

    def stop(self) -> CpuSplit:
        used = {name: seconds - self._started[name] for name, pid in self._pids.items()
                if name in self._started and (seconds := cpu_seconds(pid)) is not None}
        machine = machine_seconds()
        return CpuSplit(used, machine - self._machine if machine is not None and self._machine is not None else None)
