"""Business outcomes counted from a batch's written values, lag from librdkafka statistics, table sizes: no broker."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
from prometheus_client import CollectorRegistry

from processors.runtime.metrics import MetricsServer, StageMetrics, TableSizes, partition_lag
from processors.runtime.outcomes import BatchHistogram, OutcomeMetrics
from processors.runtime.routing import Tally

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def _context(lane: str = "transactional") -> dict:
    return {"message_id": "m1", "lane": lane, "requested_at": T0}


def _receipt(status: str, terminal: bool, seconds: float, channel: str | None = "SMS", reason: str | None = None) -> dict:
    return {"context": _context(), "status": status, "terminal": terminal, "channel": channel, "reason": reason,
            "occurred_at": T0 + timedelta(seconds=seconds)}


def test_receipts_fallbacks_and_latencies_are_counted_per_batch() -> None:
    registry = CollectorRegistry()
    outcomes = OutcomeMetrics("receipt", registry)
    dispatched = {"context": _context("marketing"), "channel": "SMS", "fallback_reason": "rcs_not_capable",
                  "submitted_at": T0 + timedelta(seconds=2)}
    outcomes.observe([("receipt", _receipt("delivered", True, 3.0)), ("receipt", _receipt("delivered", True, 0.2)),
                      ("receipt", _receipt("rejected", True, 0.01, None, "invalid_number")),
                      ("receipt", _receipt("sent", False, 1.0)), ("dispatched", dispatched), ("rendered", {"x": 1})])
    value = registry.get_sample_value
    assert value("courrier_receipts_total", {"stage": "receipt", "status": "delivered", "channel": "SMS", "reason": "none"}) == 2
    assert value("courrier_receipts_total", {"stage": "receipt", "status": "rejected", "channel": "none", "reason": "invalid_number"}) == 1
    assert value("courrier_fallbacks_total", {"reason": "rcs_not_capable", "channel": "SMS"}) == 1
    terminal = {"stage": "receipt", "lane": "transactional", "channel": "SMS"}
    assert value("courrier_terminal_latency_seconds_count", terminal) == 2  # the non-terminal "sent" is not
    assert value("courrier_terminal_latency_seconds_sum", terminal) == 3.2
    assert value("courrier_terminal_latency_seconds_bucket", {**terminal, "le": "0.25"}) == 1
    assert value("courrier_terminal_latency_seconds_bucket", {**terminal, "le": "+Inf"}) == 2
    assert value("courrier_submit_latency_seconds_count", {"lane": "marketing", "channel": "SMS"}) == 1
    assert value("courrier_submit_latency_seconds_bucket", {"lane": "marketing", "channel": "SMS", "le": "2.5"}) == 1


def test_a_batch_histogram_is_cumulative_and_a_value_on_a_bound_counts_in_it() -> None:
    registry = CollectorRegistry()
    histogram = BatchHistogram("h_seconds", "doc", ["lane"], (1.0, 2.0), registry)
    histogram.observe_many(("a",), [0.5, 1.0, 1.5, 9.0])
    histogram.observe_many(("a",), [2.0])
    buckets = {s.labels["le"]: s.value for s in next(iter(registry.collect())).samples if s.name == "h_seconds_bucket"}
    assert buckets == {"1.0": 2, "2.0": 4, "+Inf": 5}
    assert registry.get_sample_value("h_seconds_sum", {"lane": "a"}) == 14.0


def test_stage_metrics_takes_the_observed_values_of_a_tally() -> None:
    metrics = StageMetrics("consent")
    metrics.observe_batch(Tally(consumed={"send-requested": 1}, produced={"receipt": 1},
                                observed=[("receipt", _receipt("suppressed", True, 0.1, None, "no_consent"))]))
    assert metrics.registry.get_sample_value("courrier_receipts_total", {
        "stage": "consent", "status": "suppressed", "channel": "none", "reason": "no_consent"}) == 1


def _stats(**partition: int | str) -> str:
    return json.dumps({"topics": {"t": {"partitions": {"0": partition, "-1": {"fetch_state": "none"}}}}})


def test_lag_is_the_end_less_the_committed_offset_or_the_position_when_it_is_further() -> None:
    assert partition_lag({"fetch_state": "active", "ls_offset": 100, "hi_offset": 120, "committed_offset": 40, "app_offset": 60}) == 40
    assert partition_lag({"fetch_state": "active", "ls_offset": -1, "hi_offset": 120, "committed_offset": 90, "app_offset": -1001}) == 30
    assert partition_lag({"fetch_state": "active", "ls_offset": 5, "lo_offset": 2, "committed_offset": -1001, "app_offset": -1001}) == 3
    assert partition_lag({"fetch_state": "active", "ls_offset": 5, "committed_offset": -1001, "app_offset": -1001}) is None
    assert partition_lag({"fetch_state": "stopped", "ls_offset": 5, "committed_offset": 1}) is None


def test_a_partition_no_longer_fetched_loses_its_lag_series() -> None:
    metrics = StageMetrics("channel")
    metrics.observe_stats(_stats(fetch_state="active", ls_offset=10, committed_offset=4, app_offset=4))
    labels = {"stage": "channel", "topic": "t", "partition": "0"}
    assert metrics.registry.get_sample_value("courrier_consumer_lag", labels) == 6
    metrics.observe_stats(_stats(fetch_state="none", ls_offset=10, committed_offset=4, app_offset=4))
    assert metrics.registry.get_sample_value("courrier_consumer_lag", labels) is None


class _Table:
    def __init__(self, rows: int, stopped: bool = False) -> None:
        self.rows, self.stopped = rows, stopped

    def __len__(self) -> int:
        if self.stopped:
            raise RuntimeError("stopped")
        return self.rows


def test_table_sizes_report_live_tables_by_topic_and_skip_stopped_or_dropped_ones() -> None:
    sizes = TableSizes()
    registry = CollectorRegistry()
    registry.register(sizes)
    consent, again, stopped, dropped = _Table(5), _Table(7), _Table(3, stopped=True), _Table(9)
    for name, table in (("consent", consent), ("consent", again), ("links", stopped), ("frequency", dropped)):
        sizes.track(name, table)
    del dropped, table  # the loop variable held the last one too
    assert registry.get_sample_value("courrier_table_rows", {"topic": "consent"}) == 7
    assert registry.get_sample_value("courrier_table_rows", {"topic": "links"}) is None
    assert registry.get_sample_value("courrier_table_rows", {"topic": "frequency"}) is None


def test_only_the_lowest_port_of_a_process_serves_the_process_wide_registry() -> None:
    low, high = sorted((MetricsServer(StageMetrics(f"s{i}"), 0, "127.0.0.1").start() for i in range(2)), key=lambda s: s.port)
    try:
        try:
            assert "process_cpu_seconds_total" in httpx.get(f"http://127.0.0.1:{low.port}/metrics", timeout=5).text
            assert "process_cpu_seconds_total" not in httpx.get(f"http://127.0.0.1:{high.port}/metrics", timeout=5).text
        finally:
            low.stop()
        assert "process_cpu_seconds_total" in httpx.get(f"http://127.0.0.1:{high.port}/metrics", timeout=5).text
    finally:
        high.stop()
