"""``courrier bench chaos``: SIGKILL dispatch at random points while messages flow, then count submissions at the SMSC.

Invariant 3 (once) and 5 (stateless stages) under crashes: every message ends in exactly one terminal
receipt (0 lost), and the SMSC's journal of accepted submit_sm shows no message twice (0 duplicates).
Each message goes to its own number with its own code, so one journal line is one submission of one
message. The test suite runs a small version; the command runs the 10k-message one.
"""
from __future__ import annotations

import json
import random
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import phonenumbers

from courrier.client import CourrierClient
from courrier.config import Settings
from courrier.outcomes import OutcomeWatcher
from courrier.processes import start_stage, stop_all

CHAIN = ("consent", "channel", "render", "dispatch", "receipt", "scheduler")  # the scheduler brings back retried records (e.g. a report that overtook its dispatched event)


@dataclass
class ChaosReport:
    """What a chaos run saw: kills done, messages without or with several terminal receipts, submissions per number."""

    messages: int
    kills: int = 0
    seconds: float = 0.0
    lost: list[str] = field(default_factory=list)
    duplicated_receipts: list[str] = field(default_factory=list)
    duplicate_submissions: dict[str, int] = field(default_factory=dict)
    submitted: int = 0
    outcomes: Counter[tuple[str, str | None]] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated_receipts or self.duplicate_submissions)


def chaos_numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct valid French mobile numbers (+33 6…), in runs from random bases so runs do not share numbers;
    a number in a block that is not allocated (+33 69…, say) starts a new run elsewhere instead of walking the block."""
    found: dict[str, None] = {}
    base, offset = rng.randrange(10**8), 0
    for _attempt in range(100 * count + 1000):
        candidate = f"+336{(base + offset) % 10**8:08d}"
        offset += 1
        if phonenumbers.number_type(phonenumbers.parse(candidate)) == phonenumbers.PhoneNumberType.MOBILE:
            found[candidate] = None
            if len(found) == count:
                return list(found)
        else:
            base, offset = rng.randrange(10**8), 0
    raise RuntimeError(f"found only {len(found)} of {count} valid French mobile numbers")


def run_chaos(settings: Settings, count: int, kills: int, log_dir: Path, seed: int | None = None, timeout_s: float = 600.0,
              on_progress: Callable[[int], None] | None = None) -> ChaosReport:
    """Run the chain, publish ``count`` OTPs, SIGKILL and restart dispatch ``kills`` times at random moments, and account for all."""
    # Pacing would make a 10k run take hours on 1-MPS long codes; this run is about crashes, not carrier limits.
    settings = settings.model_copy(update={"dispatch_pacing": False})
    rng = random.Random(seed)
    report = ChaosReport(messages=count)
    stages = {name: start_stage(name, settings, log_dir) for name in CHAIN}
    started_ms = int(time.time() * 1000)
    started = time.monotonic()
    try:
        watcher = OutcomeWatcher(settings)
        numbers = chaos_numbers(count, rng)
        client = CourrierClient(settings, source="chaos")
        ids = {client.send(number, "otp", {"code": f"{i % 10**6:06d}"}, channel_policy="SMS", lane="TRANSACTIONAL"): number
               for i, number in enumerate(numbers)}
        client.flush()
        deadline = time.monotonic() + timeout_s
        next_kill = time.monotonic() + rng.uniform(0.5, 3.0)
        while time.monotonic() < deadline:
            watcher.poll()
            done = watcher.outcomes.done(ids)
            if on_progress:
                on_progress(done)
            if done >= count:
                break
            if report.kills < kills and time.monotonic() >= next_kill:
                stages["dispatch"].kill()
                report.kills += 1
                stages["dispatch"] = start_stage("dispatch", settings, log_dir / f"dispatch-{report.kills}")
                next_kill = time.monotonic() + rng.uniform(0.5, 3.0)
        report.seconds = time.monotonic() - started
        watcher.close()
    finally:
        stop_all(stages.values())
    for message_id, _number in ids.items():
        terminal = watcher.outcomes.terminal(message_id)
        if not terminal:
            report.lost.append(message_id)
        elif len(terminal) > 1:
            report.duplicated_receipts.append(message_id)
        for receipt in terminal[:1]:
            report.outcomes[(receipt["status"], receipt["reason"])] += 1
    per_number = _submissions(settings, set(ids.values()), started_ms)
    report.submitted = len(per_number)
    report.duplicate_submissions = {n: c for n, c in per_number.items() if c > 1}
    return report


def _submissions(settings: Settings, numbers: set[str], since_ms: int) -> Counter[str]:
    """Accepted submit_sm per destination number since ``since_ms``, from the local SMSC's journal."""
    url = f"http://127.0.0.1:{settings.smsc_control_port}/submissions"
    with urllib.request.urlopen(url, timeout=30) as answer:
        lines = answer.read().decode().splitlines()
    counts: Counter[str] = Counter()
    for line in lines:
        entry = json.loads(line)
        number = "+" + entry["to"].lstrip("+")
        if entry["at"] >= since_ms and number in numbers:
            counts[number] += 1
    return counts
