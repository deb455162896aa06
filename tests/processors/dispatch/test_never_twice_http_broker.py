"""Invariant 3 (once) through the HTTP provider: 10,000 messages, dispatch SIGKILLed at random moments and started
again, and the provider simulator's own count of submissions per client reference says each message arrived exactly
once — none twice, none lost. A submit cut off by a kill is looked up (reconcile) by the next process, not resent."""
from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import httpx

from common.config import Settings
from courrier.processes import start_stage, stop_all
from dispatch_broker import Outcomes, publish, rendered  # noqa: I001 (same folder)

COUNT = 10_000
KILLS = 3  # each costs the group's session timeout before the new process gets the partitions back


def sim_submissions(settings: Settings, prefix: str) -> dict[str, int]:
    """Accepted submissions per client reference (our message id) that the simulator counted, for ids starting with ``prefix``."""
    answer = httpx.get(f"{settings.sim_address}/_sim/stats", params={"prefix": prefix}, timeout=30)
    answer.raise_for_status()
    return answer.json()["submissions"]


def test_dispatch_killed_at_random_submits_every_message_exactly_once(topic_settings: Settings, tmp_path: Path) -> None:
    settings = topic_settings.model_copy(update={"dispatch_providers": "http", "dispatch_pacing": False})
    rng = random.Random(5)
    prefix = f"once-{uuid.uuid4().hex[:8]}-"
    ids = [f"{prefix}{i:05d}" for i in range(COUNT)]
    publish(settings, "rendered-transactional", [rendered(m, f"+3367{i:07d}", "COURRIER", rate=30.0, lane="TRANSACTIONAL",
                                                          text=f"Your code is {i:06d}") for i, m in enumerate(ids)])
    stages = {name: start_stage(name, settings, tmp_path) for name in ("dispatch", "scheduler")}
    outcomes = Outcomes(settings)
    kills = 0
    try:
        deadline = time.monotonic() + 900
        # Kill while messages flow (not while a new process is still starting): after a random number of new outcomes.
        kill_at, kill_after = rng.randint(500, 3000), rng.uniform(0.0, 1.5)
        while time.monotonic() < deadline and not set(ids) <= set(outcomes.by_message):
            outcomes.wait(set(ids), timeout_s=0.05)
            if kills < KILLS and len(outcomes.by_message) >= kill_at:
                time.sleep(kill_after)  # anywhere in the next batch: consuming, writing the ledger, submitting, committing
                stages["dispatch"].kill()
                kills += 1
                stages["dispatch"] = start_stage("dispatch", settings, tmp_path / f"restarted-{kills}")
                kill_at, kill_after = len(outcomes.by_message) + rng.randint(500, 3000), rng.uniform(0.0, 1.5)
    finally:
        outcomes.close()
        stop_all(stages.values())
    found = outcomes.by_message
    assert kills == KILLS, f"the run ended after {kills} kills; it must be long enough for {KILLS}"
    assert [m for m in ids if m not in found] == [], "messages without an outcome"
    kinds = {m: {(kind, value.get("status"), value.get("reason")) for kind, value in found[m]} for m in ids}
    assert {m: k for m, k in kinds.items() if k != {("dispatched", None, None)}} == {}, "messages that were not (only) dispatched"
    submitted = sim_submissions(settings, prefix)
    assert {m: n for m, n in submitted.items() if n != 1} == {}, "messages the simulator received more than once"
    assert sorted(set(ids) - set(submitted)) == [], "dispatched messages the simulator never received"
