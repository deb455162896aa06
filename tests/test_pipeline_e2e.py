"""The whole chain, each stage its own process, on the real broker, registry and SMSC simulator.

Invariant 1 (accounted for) and 5 (stateless stages): every request ends in exactly one terminal
receipt, also when a stage is SIGKILLed mid-stream and restarted.
"""
from __future__ import annotations

import time
from pathlib import Path

from common.config import Settings
from courrier.client import CourrierClient
from courrier.demo import GROUP, demo_requests
from courrier.outcomes import OutcomeWatcher
from courrier.processes import PIPELINE, start_stage, stop_all


def without_quiet_hours(settings: Settings) -> Settings:
    """Marketing sends in the demo mix would be deferred at night and have no terminal receipt while the test waits."""
    return settings.model_copy(update={"quiet_hours_enabled": False})


def publish(settings: Settings, count: int, seed: int) -> list[str]:
    requests, consents = demo_requests(count, seed=seed)
    client = CourrierClient(settings, source="test")
    for number, opted_in in consents.items():
        client.record_consent(number, GROUP, opted_in, source="test")
    client.flush()
    ids = [client.send(r.recipient, r.template_id, r.variables, channel_policy=r.channel_policy, lane=r.lane,
                       subscription_group=r.subscription_group, campaign_id=r.campaign_id, variant=r.variant)
           for r in requests]
    client.flush()
    return ids


def test_every_request_gets_exactly_one_terminal_receipt(topic_settings: Settings, tmp_path: Path) -> None:
    topic_settings = without_quiet_hours(topic_settings)
    stages = [start_stage(name, topic_settings, tmp_path) for name in PIPELINE]
    try:
        watcher = OutcomeWatcher(topic_settings)
        time.sleep(2)  # let the consent stage load its table before the consent import lands (it also follows it live)
        ids = publish(topic_settings, 150, seed=1)
        outcomes = watcher.wait_terminal(ids, timeout_s=120)
        assert [m for m in ids if len(outcomes.terminal(m)) != 1] == []
        statuses = {(r["status"], r["reason"]) for m in ids for r in outcomes.terminal(m)}
        assert ("DELIVERED", None) in statuses
        assert ("REJECTED", "invalid_number") in statuses
        assert ("SUPPRESSED", "opted_out") in statuses or ("SUPPRESSED", "no_consent") in statuses
        delivered = [r for m in ids for r in outcomes.terminal(m) if r["status"] == "DELIVERED"]
        assert all(r["channel"] == "SMS" and r["provider_message_id"] and r["segments"] >= 1 for r in delivered)
        assert outcomes.dead_letters == []
    finally:
        stop_all(stages)
    assert all(s.process.returncode == 0 for s in stages), [s.log_path.read_text()[-2000:] for s in stages if s.process.returncode]


def test_a_stage_killed_mid_stream_loses_and_duplicates_nothing(topic_settings: Settings, tmp_path: Path) -> None:
    topic_settings = without_quiet_hours(topic_settings)
    exactly_once = ["--exactly-once"]
    render_env = {"COURRIER_INSTANCE_ID": "render-0"}
    stages = {name: start_stage(name, topic_settings, tmp_path, exactly_once,
                                render_env if name == "render" else None) for name in PIPELINE}
    try:
        watcher = OutcomeWatcher(topic_settings)
        time.sleep(2)
        ids = publish(topic_settings, 400, seed=2)
        deadline = time.monotonic() + 60
        while watcher.outcomes.done(ids) < 20 and time.monotonic() < deadline:
            watcher.poll()
        stages["render"].kill()
        stages["render"] = start_stage("render", topic_settings, tmp_path / "restarted", exactly_once, render_env)
        outcomes = watcher.wait_terminal(ids, timeout_s=180)
        counts = {m: len(outcomes.terminal(m)) for m in ids}
        assert [m for m, n in counts.items() if n == 0] == [], "lost messages"
        assert [m for m, n in counts.items() if n > 1] == [], "duplicated messages"
    finally:
        stop_all(stages.values())
