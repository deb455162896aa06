"""Each kind of stage process on a real broker, its /metrics read over HTTP as Prometheus would: the runtime's counters,
lag per partition, business outcomes, tables and the process-wide figures (providers, pacing) on the first endpoint."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from common.config import Settings
from courrier.client import CourrierClient
from processors.catalog import BUILDERS, _dispatch
from processors.runtime.lanes import run_lanes
from processors.runtime.metrics import MetricsServer
from processors.runtime.runner import Runner, RunnerOptions
from processors.scheduler.scheduler import Scheduler
from tests.processors.dispatch.dispatch_broker import publish, rendered

Samples = dict[str, list[tuple[dict[str, str], float]]]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (dispatch serves its lanes on port, port + 1)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        try:
            held = []
            for port in range(first, first + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()


def scrape(port: int) -> Samples:
    """``GET /metrics`` parsed: sample name → [(labels, value)], and every family name declared (``# TYPE``) with [];
    nothing while the server is not up yet (the stage loads its tables first)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.ConnectError:
        return {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(family.name, [])
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def wait_for(port: int, seen: Callable[[Samples], bool], timeout_s: float = 60.0) -> Samples:
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape(port)
        if seen(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.5)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for sample_labels, v in samples.get(name, []) if labels.items() <= sample_labels.items()]
    return sum(found) if found else None


@contextmanager
def in_thread(target: Callable[[], None]) -> Iterator[None]:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    yield
    thread.join(60)
    assert not thread.is_alive()


def test_a_stage_serves_its_counters_lag_outcomes_tables_and_the_process_on_the_metrics_host(topic_settings: Settings) -> None:
    port = free_ports(1)
    settings = topic_settings.model_copy(update={"metrics_host": "127.0.0.1", "metrics_port": port})
    stage, tables = BUILDERS["consent"](settings)
    for table in tables:
        table.start()
    runner = Runner(stage, settings, RunnerOptions(batch_size=50))
    stop = threading.Event()
    client = CourrierClient(settings, source="test")
    try:
        with in_thread(lambda: runner.run(until=stop.is_set)):
            client.send("+3361234", "otp", {"code": "1"})  # too short: a terminal REJECTED receipt at consent
            client.flush()
            samples = wait_for(port, lambda s: bool(value(s, "courrier_receipts_total")) and "courrier_consumer_lag" in s
                               and bool(s["courrier_consumer_lag"]))
            stop.set()
    finally:
        for table in tables:
            table.stop()
    assert value(samples, "courrier_consumed_total", stage="consent", topic="send-requested-transactional") == 1  # an OTP: its lane
    assert value(samples, "courrier_receipts_total", stage="consent", status="REJECTED", reason="invalid_number") == 1
    assert value(samples, "courrier_terminal_latency_seconds_count", stage="consent", lane="TRANSACTIONAL") == 1
    lags = samples["courrier_consumer_lag"]
    assert {labels["partition"] for labels, _ in lags} == {"0", "1", "2"} and all(v >= 0 for _, v in lags)
    assert value(samples, "courrier_table_rows", topic="consent") is not None  # the test process may hold others
    assert value(samples, "process_cpu_seconds_total") is not None  # the process-wide registry
    assert value(samples, "courrier_batch_seconds_count", stage="consent") >= 1


def accepted_by_provider() -> dict[str, float]:
    """Submits the providers of this pytest process have accepted so far, by provider."""
    return {sample.labels["provider"]: sample.value for family in REGISTRY.collect() if family.name == "courrier_provider_submits"
            for sample in family.samples if sample.name.endswith("_total") and sample.labels["outcome"] == "accepted"}


def test_dispatch_serves_providers_and_pacing_on_one_lane_s_endpoint_only(topic_settings: Settings,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a dispatch process: its two lanes' servers are the process's only ones (an earlier test of this pytest
    # process may have left one live, which would hold the process-wide registry by having a lower port).
    monkeypatch.setattr(MetricsServer, "_live", [])
    port = free_ports(2)
    settings = topic_settings.model_copy(update={"dispatch_hold_s": 0.5})
    lanes, tables = _dispatch(settings)
    stop = threading.Event()
    otps = [rendered(f"otp-{i}", f"+336127{i:05d}", "METERED", rate=10.0, lane="TRANSACTIONAL", text=f"Code {i}") for i in range(3)]
    # The process-wide counters live as long as the test process: what earlier tests submitted is already counted.
    accepted_before = accepted_by_provider()
    before = sum(accepted_before.values())

    def both() -> tuple[Samples, Samples]:
        return scrape(port), scrape(port + 1)  # the transactional lane's, the marketing lane's

    with in_thread(lambda: run_lanes(lanes, tables, settings, RunnerOptions(batch_size=100, metrics_port=port), until=stop.is_set)):
        wait_for(port + 1, lambda s: bool(s.get("courrier_consumer_lag")))  # both lanes up, the marketing one assigned
        publish(settings, "rendered-transactional", otps)
        deadline = time.monotonic() + 60
        while True:
            transactional, marketing = both()
            done = (value(transactional, "courrier_submit_latency_seconds_count") or 0) >= 3 and (
                value(transactional, "courrier_provider_submits_total", outcome="accepted") or 0) >= before + 3
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        stop.set()
    # The lowest port of the process (the transactional lane's) carries the process-wide registry; a sum over both
    # endpoints then counts each provider answer once.
    process = transactional
    assert "courrier_provider_submits_total" not in marketing and "courrier_pacing_backlog" not in marketing
    assert value(process, "courrier_provider_submits_total", outcome="accepted") == before + 3
    assert value(process, "courrier_provider_submit_seconds_count") >= 1
    # The gauge is process-wide too: a provider an earlier test broke may still read open. Those that took this test's
    # messages are closed.
    used = [name for name, count in accepted_by_provider().items() if count > accepted_before.get(name, 0)]
    assert used and all(value(process, "courrier_provider_circuit_open", provider=name) == 0 for name in used)
    assert value(process, "courrier_pacing_sent_messages_total", sender="METERED", country="FR", channel="SMS") == 3
    assert value(process, "courrier_pacing_limit_segments_per_second", sender="METERED") > 0
    assert "courrier_pacing_backlog" in process
    assert value(transactional, "courrier_submit_latency_seconds_count", lane="TRANSACTIONAL", channel="SMS") == 3
    assert value(transactional, "courrier_consumed_total", stage="dispatch", topic="rendered-transactional") == 3
    assert "courrier_consumer_lag" in marketing


def test_the_scheduler_serves_its_metrics(topic_settings: Settings) -> None:
    port = free_ports(1)
    scheduler = Scheduler(topic_settings, metrics_port=port)
    stop = threading.Event()
    with in_thread(lambda: scheduler.run(until=stop.is_set)):
        samples = wait_for(port, lambda s: bool(s.get("courrier_consumer_lag")))
        stop.set()
    assert {labels["stage"] for labels, _ in samples["courrier_consumer_lag"]} == {"scheduler"}
    assert value(samples, "courrier_table_rows", topic="scheduler-released") is not None  # the test process may hold others
