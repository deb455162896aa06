"""RCS with SMS fallback through the whole chain: every stage its own process, the provider simulator's RBM and
aggregator APIs, signed webhooks back through the receiver.

An RCS message reported UNDELIVERED, or silent past its deadline, is sent as SMS exactly once (counted at the
simulator, by client reference); an RCS delivery that arrives late is recorded beside the SMS, which stays the
message's one terminal outcome; an RCS message delivered in time never costs an SMS; an RCS-only message still
without a report when its validity ends is EXPIRED.
"""
from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import SecretStr

from common.config import Settings
from courrier.client import CourrierClient
from courrier.outcomes import OutcomeWatcher
from courrier.processes import PIPELINE, StageProcess, start_stage, start_webhooks, stop_all, wait_until_consuming
from processors.fallback import SUFFIX
from sim.simulator import SimOptions
from sim.testing import SimControl, private_sim
from tests.serving import free_port, wait_healthy


SECRET = secrets.token_urlsafe(32)  # random per run: there is no built-in secret
AFTER_S = 4
LATE_MS = 14_000  # an RCS report this late arrives after the fallback went, 10 s after its deadline


@pytest.fixture
def pipeline(topic_settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, SimControl]]:
    """A private simulator posting to a receiver of this test's own, and the chain sending RCS and SMS to it over HTTP."""
    port = free_port()
    options = SimOptions(webhook_url=f"http://127.0.0.1:{port}/webhooks/sim", webhook_secret=SECRET)
    with private_sim(options) as sim:
        settings = topic_settings.model_copy(update={
            "sim_url": sim.url, "rbm_url": sim.url, "sim_webhook_url": options.webhook_url, "webhook_secret": SecretStr(SECRET),
            "dispatch_providers": "http", "dispatch_pacing": False, "quiet_hours_enabled": False})
        processes: list[StageProcess] = [start_webhooks(settings, tmp_path, port),
                                         *(start_stage(name, settings, tmp_path) for name in PIPELINE)]
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", processes[0])
            # Every stage and transactional lane consuming before the first request: on a loaded box a stage still
            # starting (the scheduler, receipt) held the RCS deadlines past the late report, which then ended the message.
            lanes = [f"{stage}-transactional" for stage in ("consent", "channel", "render", "dispatch")]
            assert wait_until_consuming(settings, [*PIPELINE, *lanes], timeout_s=180) == []
            yield settings, sim
        finally:
            stop_all(processes)


def send(settings: Settings, numbers: list[str], policy: str = "RCS_WITH_SMS_FALLBACK", validity_s: int | None = None) -> list[str]:
    """Order updates; with a fallback, each request sets its own window (AFTER_S, against the deployment's 300 s)."""
    client = CourrierClient(settings, source="test")
    window = AFTER_S if policy == "RCS_WITH_SMS_FALLBACK" else None
    ids = [client.send(n, "order_shipped", {"first_name": "Léa", "order_id": f"F{i:03d}"}, channel_policy=policy,
                       lane="TRANSACTIONAL", validity_seconds=validity_s, sms_fallback_after_s=window) for i, n in enumerate(numbers)]
    client.flush()
    return ids


def numbers(start: int, count: int) -> list[str]:
    """RCS-capable French mobiles (the simulator's default makes numbers ending in 0 or 5 not capable)."""
    found = [f"+336123{n:05d}" for n in range(start, start + 3 * count) if str(n)[-1] not in "05"]
    return found[:count]


def rows(receipts: list[dict[str, Any]]) -> list[tuple[str, str | None, bool]]:
    return [(r["status"], r["channel"], r["terminal"]) for r in receipts]


def submissions(sim: SimControl, ids: list[str]) -> dict[str, int]:
    counted = sim.stats()["submissions"]
    return {ref: counted.get(ref, 0) for m in ids for ref in (m, m + SUFFIX)}


def wait_for(watcher: OutcomeWatcher, done, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        watcher.poll()


def test_undelivered_silent_and_late_rcs_fall_back_to_one_sms_and_delivered_rcs_never_does(
        pipeline: tuple[Settings, SimControl]) -> None:
    settings, sim = pipeline
    with pytest.raises(ValueError, match="RCS_WITH_SMS_FALLBACK only"):
        CourrierClient(settings).send(numbers(0, 1)[0], "otp", {"code": "1"}, channel_policy="SMS", sms_fallback_after_s=5)
    watcher = OutcomeWatcher(settings)
    sim.configure(by_provider={"rbm": {"undelivered_rate": 1.0}})
    undelivered = send(settings, numbers(0, 8))
    wait_for(watcher, lambda: watcher.outcomes.done(undelivered) == len(undelivered), 120)
    sim.configure(by_provider={"rbm": {"silent_rate": 0.5, "delivery_delay_ms": LATE_MS}})
    silent_or_late = send(settings, numbers(100, 12))
    rcs_only = send(settings, numbers(300, 4), "RCS_ONLY", validity_s=AFTER_S + 2)
    deadline = time.monotonic() + 60  # the RCS attempts reach the simulator with these faults before the next change
    while time.monotonic() < deadline and any(sim.stats()["submissions"].get(m, 0) == 0 for m in silent_or_late + rcs_only):
        time.sleep(0.1)
    sim.configure(by_provider={})
    in_time = send(settings, numbers(200, 6))
    every = undelivered + silent_or_late + rcs_only + in_time
    receipts = watcher.outcomes.receipts
    late = lambda m: any(r["channel"] == "RCS" and r["status"] == "DELIVERED" for r in receipts[m])  # noqa: E731
    wait_for(watcher, lambda: watcher.outcomes.done(every) == len(every)
             and sum(map(late, silent_or_late)) >= 1 and all(len(receipts[m]) >= 3 for m in silent_or_late), 120)
    watcher.poll(1.0)
    watcher.close()

    assert [m for m in every if len(watcher.outcomes.terminal(m)) != 1] == [], "messages without exactly one terminal receipt"
    for m in undelivered:
        assert rows(receipts[m]) == [("SENT", "RCS", False), ("UNDELIVERED", "RCS", False), ("SENT", "SMS", False),
                                     ("DELIVERED", "SMS", True)]
        assert receipts[m][2]["fallback_reason"] == "rcs_undelivered"
    for m in silent_or_late:
        [outcome] = watcher.outcomes.terminal(m)
        assert (outcome["status"], outcome["channel"], outcome["fallback_reason"]) == ("DELIVERED", "SMS", "rcs_not_delivered_in_time")
        assert all(not r["terminal"] for r in receipts[m] if r["channel"] == "RCS")
    assert 1 <= sum(map(late, silent_or_late)) < len(silent_or_late), "some RCS reports arrive late, some never"
    for m in rcs_only:
        [outcome] = watcher.outcomes.terminal(m)
        # Its validity reaches the provider (RBM's expireTime), which reports the expiry itself; our own deadline at the
        # validity's end closes it only when that report never comes.
        assert (outcome["status"], outcome["channel"]) == ("EXPIRED", "RCS")
        assert outcome["reason"] in {"rcs_ttl_expired", "no_report_within_validity"}
    for m in in_time:
        assert rows(watcher.outcomes.terminal(m)) == [("DELIVERED", "RCS", True)] and all(r["channel"] == "RCS" for r in receipts[m])
    sent = submissions(sim, every)
    no_sms = set(in_time + rcs_only)
    assert {ref: n for ref, n in sent.items() if ref.endswith(SUFFIX) and n != (0 if ref[:-len(SUFFIX)] in no_sms else 1)} == {}
    assert {ref: n for ref, n in sent.items() if not ref.endswith(SUFFIX) and n != 1} == {}
    assert watcher.outcomes.dead_letters == []
