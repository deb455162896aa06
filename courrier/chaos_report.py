"""What a chaos run saw, counted from outside (``ChaosReport``), and how it is printed for a person."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ChaosReport:
    """What a run saw, counted from outside."""

    requests: int
    seconds: float = 0.0
    kills: Counter[str] = field(default_factory=Counter)
    restarts_after_exit: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    rebalances: int = 0
    smsc_drops: int = 0
    terminal_counts: Counter[int] = field(default_factory=Counter)
    without_terminal: list[str] = field(default_factory=list)
    several_terminal: list[str] = field(default_factory=list)
    several_examples: list[str] = field(default_factory=list)
    repeated_receipts: int = 0
    repeated_by: Counter[tuple[str, str]] = field(default_factory=Counter)
    repeated_examples: list[str] = field(default_factory=list)
    duplicate_submits: dict[str, int] = field(default_factory=dict)
    sends_after_stop: dict[str, int] = field(default_factory=dict)
    stops: int = 0
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    submitted_smsc: int = 0
    submitted_sim: int = 0

    @property
    def ok(self) -> bool:
        return not (self.without_terminal or self.several_terminal or self.repeated_receipts or self.duplicate_submits
                    or self.sends_after_stop)


def print_report(console: Any, report: ChaosReport) -> None:
    """The run's figures as a person reads them: what was done to the chain, then what every message came to."""
    from rich.table import Table

    kills = ", ".join(f"{name} {n}" for name, n in sorted(report.kills.items())) or "none"
    exits = ", ".join(f"{name} {n}" for name, n in sorted(report.restarts_after_exit.items())) or "none"
    console.print(f"{report.requests} requests in {report.seconds:.0f} s; SIGKILLs: {sum(report.kills.values())} ({kills}); "
                  f"stages that exited by themselves and were restarted: {exits}; broker restarts: {report.broker_restarts}; "
                  f"SMSC bind drops: {report.smsc_drops}; rebalances (an instance of every stage added, its oldest killed): "
                  f"{report.rebalances}; STOPs texted: {report.stops}")
    console.print(f"submits counted at the providers: SMSC {report.submitted_smsc}, simulator {report.submitted_sim}")
    checks = Table(title="invariants (each must be 0)")
    checks.add_column("what")
    checks.add_column("count", justify="right")
    checks.add_row("messages with exactly one terminal receipt (not a violation)", str(report.terminal_counts[1]))
    checks.add_row("messages without a terminal receipt", str(len(report.without_terminal)))
    checks.add_row("messages with two or more terminal receipts", str(len(report.several_terminal)))
    checks.add_row("receipts repeated (same receipt_id twice)", str(report.repeated_receipts))
    checks.add_row("messages submitted twice", str(len(report.duplicate_submits)))
    checks.add_row("marketing SMS submitted after the recipient's STOP", str(len(report.sends_after_stop)))
    console.print(checks)
    for example in report.several_examples:
        console.print(f"  several terminal receipts: {example}")
    if report.repeated_by:
        console.print("repeated receipts by stage and status: " + ", ".join(
            f"{stage} {status} {n}" for (stage, status), n in report.repeated_by.most_common()))
        for example in report.repeated_examples:
            console.print(f"  e.g. {example}")
    outcomes = Table(title="terminal outcomes")
    for column in ("status", "channel", "reason", "messages"):
        outcomes.add_column(column, justify="right" if column == "messages" else "left")
    for (status, channel, reason), n in report.outcomes.most_common():
        outcomes.add_row(status, channel, reason, str(n))
    console.print(outcomes)
    dead = Table(title="dead-letter records by stage and error")
    for column in ("stage", "error", "records"):
        dead.add_column(column, justify="right" if column == "records" else "left")
    for (stage, error), n in report.dead_letters.most_common():
        dead.add_row(stage, error, str(n))
    console.print(dead)
