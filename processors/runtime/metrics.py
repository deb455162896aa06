"""Per-stage Prometheus metrics and the HTTP endpoint that serves them with ``/healthz``.

The runner reports once per batch (``observe_batch``, ``batch_done``): a Prometheus update takes a lock, so one per
record would cost more than the record's own routing. A batch's receipts and dispatches feed the business outcomes
(``runtime.outcomes``); consumer lag per partition comes from librdkafka's statistics, every few seconds.

``/metrics`` serves the stage's own registry and the process-wide one (``prometheus_client.REGISTRY``: process and
GC figures, providers, pacing, table sizes; on the process's first endpoint only), on ``COURRIER_METRICS_HOST``
(127.0.0.1 unless set, e.g. ``0.0.0.0`` in a pod Prometheus scrapes). ``exposition`` gives the same text to the HTTP services, which serve it on their own app.
"""
from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sized
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from processors.runtime.outcomes import OutcomeMetrics
from processors.runtime.routing import Tally

_BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StageMetrics:
    """The runtime's counters for one stage process, in a registry of its own (several runners may share a test process)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.registry = CollectorRegistry()
        labels = ["stage", "topic"]
        self.consumed = Counter("courrier_consumed", "Records consumed", labels, registry=self.registry)
        self.produced = Counter("courrier_produced", "Records produced", labels, registry=self.registry)
        self.dead_lettered = Counter("courrier_dead_lettered", "Records sent to dead-letter", ["stage", "topic", "reason"], registry=self.registry)
        self.retried = Counter("courrier_retried", "Records sent to the retry topic", labels, registry=self.registry)
        self.processing = Histogram(
            "courrier_processing_seconds", "Time the stage took to process one batch's records (courrier_consumed counts them)",
            ["stage"], buckets=_BATCH_BUCKETS, registry=self.registry,
        )
        self.batch = Histogram(
            "courrier_batch_seconds", "Time from consume to commit for one batch", ["stage"],
            buckets=_BATCH_BUCKETS, registry=self.registry,
        )
        self.lag = Gauge("courrier_consumer_lag", "Records between the group's committed offset (else the consumer's position) "
                         "and the partition's end, per assigned partition; topic is the physical name (with its prefix), "
                         "as Kafka tools and KEDA show it", ["stage", "topic", "partition"], registry=self.registry)
        self.outcomes = OutcomeMetrics(stage, self.registry)
        self._lagging: set[tuple[str, str]] = set()
        self.last_loop = time.monotonic()
        self.assigned = 0
        self._children: dict[tuple[int, str], Any] = {}
        self._processing = self.processing.labels(stage)
        self._batch = self.batch.labels(stage)

    def observe_batch(self, tally: Tally) -> None:
        """Count one batch's records (consumed, produced, dead-lettered, retried) and its business outcomes (the receipts
        and dispatches it writes), and time the stage's part of it."""
        for topic, n in tally.consumed.items():
            self._child(self.consumed, topic).inc(n)
        for topic, n in tally.produced.items():
            self._child(self.produced, topic).inc(n)
        for topic, n in tally.retried.items():
            self._child(self.retried, topic).inc(n)
        for (topic, reason), n in tally.dead_lettered.items():
            self.dead_lettered.labels(self.stage, topic, reason).inc(n)
        if tally.consumed:
            self._processing.observe(tally.processing_s)
        if tally.observed:
            self.outcomes.observe(tally.observed)

    def batch_done(self, seconds: float) -> None:
        """A batch took ``seconds`` from its consume to its commit."""
        self._batch.observe(seconds)

    def _child(self, metric: Counter, topic: str) -> Any:
        # labels() costs a lock and a dict lookup per call; a stage touches a handful of topics, so keep the children.
        key = (id(metric), topic)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.stage, topic)
        return child

    def observe_stats(self, stats_json: str) -> None:
        """Update lag from librdkafka's statistics callback (``statistics.interval.ms``); a partition no longer fetched
        (revoked) loses its series, so a scaled-down stage does not report its old partitions' lag for ever."""
        stats: dict[str, Any] = json.loads(stats_json)
        seen: set[tuple[str, str]] = set()
        for topic_name, topic_stats in stats.get("topics", {}).items():
            for partition, p in topic_stats.get("partitions", {}).items():
                lag = partition_lag(p)
                if partition != "-1" and lag is not None:
                    self.lag.labels(self.stage, topic_name, partition).set(lag)
                    seen.add((topic_name, partition))
        for topic_name, partition in self._lagging - seen:
            self.lag.remove(self.stage, topic_name, partition)
        self._lagging = seen

    def healthy(self, stale_after_s: float = 30.0) -> bool:
        """Alive when the consume loop went round recently."""
        return time.monotonic() - self.last_loop < stale_after_s


def partition_lag(p: dict[str, Any]) -> int | None:
    """Records of one partition (librdkafka statistics) not yet committed, or None when it is not being fetched.

    The end is the last stable offset (a read-committed consumer reads no further) when known, else the high watermark.
    The committed offset is librdkafka's when it has one; a transactional commit (``send_offsets_to_transaction``) does not
    update it, so the position (next offset handed to the stage) is taken when it is further: a batch past the position is
    committed or about to be, with its transaction. A partition with neither (no commit yet, nothing read yet) is read
    from its log start (``auto.offset.reset`` is earliest), so everything from there is behind.
    """
    if p.get("fetch_state") != "active":
        return None
    end = p.get("ls_offset", -1)
    if end is None or end < 0:
        end = p.get("hi_offset", -1)
    done = max(p.get("committed_offset", -1), p.get("app_offset", -1))
    if done < 0:
        done = p.get("lo_offset", -1)
    if end < 0 or done < 0:
        return None
    return max(0, end - done)


class TableSizes(Collector):
    """``courrier_table_rows{topic}``: the rows of every table of this process, read at scrape time from the count its store
    keeps (no scan). Tables are held weakly: a table dropped by its process leaves the metric."""

    def __init__(self) -> None:
        self._tables: list[tuple[str, weakref.ref[Sized]]] = []
        self._lock = threading.Lock()

    def track(self, topic: str, table: Sized) -> None:
        """Report ``len(table)`` under ``topic`` while the table lives."""
        with self._lock:
            self._tables = [(name, ref) for name, ref in self._tables if ref() is not None]
            self._tables.append((topic, weakref.ref(table)))

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("courrier_table_rows", "Rows of a table (a compacted topic held locally), by logical topic",
                                  labels=["topic"])]

    def collect(self) -> Iterable[Metric]:
        rows: dict[str, int] = {}
        with self._lock:
            tables = [(name, ref()) for name, ref in self._tables]
        for name, table in tables:
            try:
                size = len(table) if table is not None else None
            except RuntimeError:  # stopped: its store is closed
                size = None
            if size is not None:  # two tables of one topic in a process hold the same rows: report the most loaded
                rows[name] = max(size, rows.get(name, 0))
        family = GaugeMetricFamily("courrier_table_rows", "Rows of a table (a compacted topic held locally), by logical topic",
                                   labels=["topic"])
        for name, size in sorted(rows.items()):
            family.add_metric([name], size)
        yield family


TABLES = TableSizes()
REGISTRY.register(TABLES)


def exposition(*registries: CollectorRegistry) -> bytes:
    """Prometheus text of ``registries`` and of the process-wide registry (providers, pacing, tables, process figures)."""
    return b"".join(generate_latest(registry) for registry in (*registries, REGISTRY))


class MetricsServer:
    """Serves ``/metrics`` (Prometheus text) and ``/healthz`` (200 or 503 with a JSON body) on ``host`` (the
    ``metrics_host`` setting).

    The process's live server of the lowest port also serves the process-wide registry; the others (dispatch's marketing
    lane, on the next port) serve their stage's registry only, so a sum over every endpoint counts each provider call once.
    """

    _live: "list[MetricsServer]" = []
    _lock = threading.Lock()

    def __init__(self, metrics: StageMetrics, port: int = 0, host: str = "127.0.0.1") -> None:
        handler = _handler_for(metrics, self._serves_process_wide)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "MetricsServer":
        with MetricsServer._lock:
            MetricsServer._live.append(self)
        self._thread.start()
        return self

    def stop(self) -> None:
        with MetricsServer._lock:
            MetricsServer._live.remove(self)
        self._server.shutdown()
        self._server.server_close()

    def _serves_process_wide(self) -> bool:
        with MetricsServer._lock:
            return min(MetricsServer._live, key=lambda server: server.port, default=None) is self


def _handler_for(metrics: StageMetrics, process_wide: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith("/metrics"):
                body = exposition(metrics.registry) if process_wide() else generate_latest(metrics.registry)
                self._send(200, CONTENT_TYPE_LATEST, body)
            elif self.path.startswith("/healthz"):
                ok = metrics.healthy()
                body = json.dumps({"stage": metrics.stage, "status": "ok" if ok else "stale", "assigned_partitions": metrics.assigned})
                self._send(200 if ok else 503, "application/json", body.encode())
            else:
                self._send(404, "text/plain", b"try /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds would drown the JSON logs
            return

    return Handler
