"""Dispatch on /metrics: each provider call timed, pacing per sender read from the pacer at scrape time."""
from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry

from processors.dispatch.breaker import BreakerPolicy
from processors.dispatch.pacing import Pacer, PacingLimits
from processors.dispatch.pacing_metrics import PacingMetrics, sender_labels
from processors.dispatch.provider import Submission
from processors.dispatch.router import Route, Router
from test_router import Clock, FakeProvider  # noqa: I001 (same folder)


def test_each_windowed_submit_call_is_timed_once_per_provider() -> None:
    name = f"timed-{time.monotonic_ns()}"
    provider = FakeProvider(name)
    router = Router([Route(provider, frozenset({"SMS"}))], BreakerPolicy(), Clock())
    router.open()
    router.submit([(provider, Submission(f"m{i}", "S", "ALPHANUMERIC", "+33612345678", "hi", "GSM7")) for i in range(3)], 5)
    assert REGISTRY.get_sample_value("courrier_provider_submit_seconds_count", {"provider": name}) == 1
    assert REGISTRY.get_sample_value("courrier_provider_submits_total", {"provider": name, "outcome": "accepted"}) == 3


def test_pacing_reports_each_senders_limit_backlog_and_totals() -> None:
    registry = CollectorRegistry()
    metrics = PacingMetrics()
    registry.register(metrics)
    pacer = metrics.track(Pacer(PacingLimits({"LONG_CODE": 10})))
    key = "33612345678|FR|SMS"
    pacer.take(key, 10.0, 2, 0.0)
    pacer.take(key, 10.0, 1, 0.5)
    pacer.defer_back(key, 10.0, [("late-1", 1), ("late-2", 1)], ready=1.0, now=0.5, lead_s=0.1)
    labels = {"sender": "33612345678", "country": "FR", "channel": "SMS"}
    assert registry.get_sample_value("courrier_pacing_sent_messages_total", labels) == 2
    assert registry.get_sample_value("courrier_pacing_sent_segments_total", labels) == 3
    assert registry.get_sample_value("courrier_pacing_backlog", labels) == 2
    assert registry.get_sample_value("courrier_pacing_limit_segments_per_second", labels) == 10


def test_a_sender_id_holding_a_bar_keeps_its_country_and_channel() -> None:
    assert sender_labels("A|B|FR|RCS") == ["A|B", "FR", "RCS"]
    assert sender_labels("odd") == ["odd", "", ""]
