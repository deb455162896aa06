"""``courrier bench chain``: the chain's throughput beside its baselines, all measured in one sitting on the same broker.

Five figures, one after the other: the raw and the fastavro five-hop passthroughs (``courrier.passthrough``: the
broker's floor, then the least Avro costs), the chain with the no-op provider (the pipeline alone: every message
accepted at once and reported delivered), the chain with SMPP against the configured SMSC, and the bare SMPP submit/DLR
loop against the same SMSC at the same window (``courrier.bench_smpp.bare_loop``: the wire's floor). Each chain runs
exactly-once, every stage its own process, with its provider declared in a configuration file of its own
(``COURRIER_CONFIG``, as the demo does); its clock runs from the first request published until every message has its
terminal receipt — so every delivery report was read, produced and applied. Then the ratios the scale issue sets
targets for: chain with no-op / fastavro passthrough ≥ 0.5, chain with SMPP ≥ 3,500 msg/s.

Every pipeline runs under a topic prefix of its own and removes its topics (and its consumer groups) afterwards,
whether it finished or not; the run prints how many topics it left under its prefixes (0).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from common import logs
from common.config import Settings, get_settings
from courrier.bench_cpu import CpuClock, CpuSplit

if TYPE_CHECKING:
    from courrier.processes import StageProcess

# Kafka clients, the topology tool, the infra and rich are imported by the functions that use them, so that
# registering this command does not slow down every other `courrier` command.

CHAIN = ("consent", "channel", "render", "dispatch", "receipt", "scheduler")  # the scheduler brings back retried records (e.g. a report that overtook its dispatched event)
HOPS = 5
NOOP_TARGET, SMPP_TARGET = 0.5, 3500.0  # issue 19's targets: chain-with-noop / fastavro passthrough, chain-with-SMPP msg/s
# The chain's provider, as a deployment declares it (processors.providers.deployment); ``window`` is the bare loop's too.
PROVIDERS = {
    "noop": '[providers.noop]\nkind = "noop"\nchannels = ["SMS"]\n',
    "smpp": '[providers.smsc]\nkind = "smpp"\nwindow = {window}\n',
}


@dataclass(frozen=True)
class Figure:
    """One measured run: ``count`` messages through in ``seconds``; ``note`` says what else was seen."""

    name: str
    count: int
    seconds: float
    note: str = ""
    cpu: CpuSplit | None = None  # where the timed run's CPU went, for the chains

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


@dataclass
class ChainBench:
    """The five figures of one run (None: that part failed, see ``errors``) and the topics left under its prefixes."""

    raw: Figure | None = None
    fastavro: Figure | None = None
    noop: Figure | None = None
    smpp: Figure | None = None
    bare: Figure | None = None
    errors: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    topics_left: int = 0

    def ratios(self) -> list[tuple[str, float, str]]:
        """(what, value, target or baseline) for every ratio whose two figures exist."""
        pairs = [("chain (no-op) / fastavro passthrough", self.noop, self.fastavro, f"target ≥ {NOOP_TARGET}"),
                 ("chain (SMPP) / bare SMPP submit/DLR loop", self.smpp, self.bare, "the SMSC's floor at this window"),
                 ("chain (SMPP) / chain (no-op)", self.smpp, self.noop, "what the SMPP provider costs the chain"),
                 ("fastavro / raw passthrough", self.fastavro, self.raw, "what Avro costs a hop")]
        return [(what, a.rate / b.rate, why) for what, a, b, why in pairs if a is not None and b is not None and b.rate]


def command(
    count: int = typer.Option(20_000, "--count", min=100, max=10_000_000, help="Messages through each pipeline."),
    window: int = typer.Option(0, "--window", min=0, max=1000,
                               help="SMPP window of the chain's provider and of the bare loop (0: COURRIER_SMPP_WINDOW)."),
) -> None:
    """The chain with SMPP and with a no-op provider beside the raw and fastavro passthroughs and a bare SMPP loop."""
    logs.configure("WARNING")
    if bench_chain(get_settings(), count=count, window=window or None).errors:
        raise typer.Exit(1)  # a figure is missing: the run said which part failed and why


def bench_chain(settings: Settings, count: int, window: int | None = None) -> ChainBench:
    """Every figure (a part that fails is reported and the others still run), then a table and the ratios."""
    from rich.console import Console

    import infra

    console = Console()
    window = window or settings.smpp_window
    bench = ChainBench()
    started_parts = infra.ensure_running(settings)
    try:
        parts: list[tuple[str, Callable[[], Figure]]] = [
            ("raw", lambda: _passthrough(settings, count, "raw", bench, console)),
            ("fastavro", lambda: _passthrough(settings, count, "fastavro", bench, console)),
            ("noop", lambda: _chain(settings, count, "noop", window, bench, console)),
            ("smpp", lambda: _chain(settings, count, "smpp", window, bench, console)),
            ("bare", lambda: _bare(settings, count, window, console)),
        ]
        for name, run in parts:
            try:
                setattr(bench, name, run())
            except Exception as failed:  # one part failing must not hide the others' figures, nor leave its topics
                bench.errors.append(f"{name}: {failed}")
        bench.topics_left = _topics_left(settings, bench.prefixes)
    finally:
        if started_parts:
            infra.stop(settings, started_parts)
    _print(console, settings, count, window, bench)
    return bench


def _print(console, settings: Settings, count: int, window: int, bench: ChainBench) -> None:
    from rich.table import Table

    table = Table(title=f"{count:,} messages, {settings.partitions} partitions, broker {settings.bootstrap_servers}, "
                        f"SMPP window {window}, one sitting")
    for column in ("pipeline", "messages", "seconds", "msg/s", "note"):
        table.add_column(column, justify="left" if column in ("pipeline", "note") else "right")
    for figure in (bench.raw, bench.fastavro, bench.noop, bench.smpp, bench.bare):
        if figure is not None:
            table.add_row(figure.name, f"{figure.count:,}", f"{figure.seconds:.2f}", f"{figure.rate:,.0f}", figure.note)
    console.print(table)
    for figure in (bench.noop, bench.smpp):
        if figure is not None and figure.cpu is not None and figure.cpu.by_process:
            _print_cpu(console, figure)
    for what, value, why in bench.ratios():
        console.print(f"{what} = {value:.2f} ({why})")
    if bench.smpp is not None:
        console.print(f"chain (SMPP) = {bench.smpp.rate:,.0f} msg/s (target ≥ {SMPP_TARGET:,.0f})")
    for error in bench.errors:
        console.print(f"[red]failed[/] {error}")
    console.print(f"topics left under this run's {len(bench.prefixes)} prefixes: {bench.topics_left}")


def _print_cpu(console, figure: Figure) -> None:
    from rich.table import Table

    assert figure.cpu is not None
    rows = figure.cpu.per_message_us(figure.count)
    counted = sum(figure.cpu.by_process.values())
    machine = (f"; the machine was busy {figure.cpu.machine:.1f} CPU-s of {figure.seconds * (os.cpu_count() or 1):.1f}"
               if figure.cpu.machine is not None else "")
    table = Table(title=f"CPU during the timed run of {figure.name}: {counted:.1f} s in these processes{machine}")
    for column in ("process", "CPU s", "µs per message", "share"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name, micros in rows:
        table.add_row(name, f"{figure.cpu.by_process[name]:.2f}", f"{micros:,.0f}", f"{figure.cpu.by_process[name] / counted:.0%}")
    table.add_row("total", f"{counted:.2f}", f"{counted / figure.count * 1e6:,.0f}", "100%")
    console.print(table)


def _passthrough(settings: Settings, count: int, mode: str, bench: ChainBench, console) -> Figure:
    """Five ``courrier.passthrough`` hops in processes of their own, ``count`` framed send-requested records through."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from courrier.passthrough import sample_record
    from courrier.processes import settings_env
    from common.kafka_clients import producer_config

    prefix = f"bench-{mode}-{uuid.uuid4().hex[:8]}-"
    bench.prefixes.append(prefix)
    topics = [f"{prefix}{i}" for i in range(HOPS + 1)]
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": logging.getLogger("librdkafka")})
    with removed(settings, prefix):
        for future in admin.create_topics([NewTopic(t, settings.partitions, settings.replication_factor) for t in topics]).values():
            future.result()
        log_dir = settings.state_dir / "logs" / "bench" / prefix.rstrip("-")
        log_dir.mkdir(parents=True, exist_ok=True)
        hops = []
        for i in range(HOPS):
            with open(log_dir / f"hop-{i}.log", "ab") as log:
                hops.append(subprocess.Popen([sys.executable, "-m", "courrier.passthrough", topics[i], topics[i + 1], f"{prefix}hop-{i}",
                                              mode], env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT))
        try:
            end = _Arrivals(settings, topics[-1])
            producer = Producer(producer_config(settings))
            payloads = iter(range(10**9))

            def send_one() -> None:
                _produce(producer, topics[0], sample_record(next(payloads)))

            _send_and_wait(console, f"{mode} warm-up", send_one, end, 1, 120, producer.flush, log_dir)
            started = time.monotonic()
            _send_and_wait(console, f"{mode} passthrough", send_one, end, count, 600, producer.flush, log_dir)
            seconds = time.monotonic() - started
            end.close()
        finally:
            for process in hops:
                process.terminate()
            for process in hops:
                process.wait(30)
    label = "raw confluent-kafka" if mode == "raw" else "fastavro (decode + encode per hop)"
    return Figure(f"{label} 5-hop passthrough", count, seconds, "at-least-once, batches of 500")


def _chain(settings: Settings, count: int, provider: str, window: int, bench: ChainBench, console) -> Figure:
    """The chain's stages exactly-once, sending through ``provider`` (``PROVIDERS``), until every terminal receipt is in."""
    from courrier.client import CourrierClient
    from courrier.processes import start_stage, stop_all
    from topology.apply import apply as apply_topology

    # Unpaced: the figure is the pipeline's own throughput, not a carrier's limit (``bench otp`` runs with pacing).
    run = settings.model_copy(update={"topic_prefix": f"bench-{provider}-{uuid.uuid4().hex[:8]}-", "dispatch_pacing": False})
    bench.prefixes.append(run.topic_prefix)
    log_dir = settings.state_dir / "logs" / "bench" / run.topic_prefix.rstrip("-")
    log_dir.mkdir(parents=True, exist_ok=True)
    config = log_dir / "courrier.toml"
    config.write_text(PROVIDERS[provider].format(window=window), encoding="utf-8")
    stages = []
    with removed(run, run.topic_prefix):
        apply_topology(run)
        try:
            stages = [start_stage(name, run, log_dir, ["--exactly-once"], extra_env={"COURRIER_CONFIG": str(config)})
                      for name in CHAIN]
            end = _Terminal(run)
            client = CourrierClient(run, source="bench")
            numbers = iter(range(10**7))

            def send_one() -> None:
                client.send(f"+3361{next(numbers) % 10**7:07d}", "otp", {"code": "424242"}, lane="TRANSACTIONAL")

            _send_and_wait(console, f"chain warm-up ({provider})", send_one, end, 1, 180, client.flush, log_dir)
            end.statuses.clear()  # the table shows the timed messages' outcomes
            clock = CpuClock(_chain_pids(settings, stages))
            clock.start()
            started = time.monotonic()
            _send_and_wait(console, f"chain ({provider})", send_one, end, count, 900, client.flush, log_dir)
            seconds = time.monotonic() - started
            cpu = clock.stop()
            end.close()
        finally:
            stop_all(stages)
    outcomes = ", ".join(f"{status} {n:,}" for status, n in end.statuses.most_common())
    label = "SMPP, every DLR applied" if provider == "smpp" else "no-op provider"
    return Figure(f"courrier chain ({label})", count, seconds, f"exactly-once; terminal receipts: {outcomes}", cpu)


def _chain_pids(settings: Settings, stages: list[StageProcess]) -> dict[str, int]:
    """The chain's stage processes, the local parts this state directory started (broker, registry, SMSC…) and this
    process (the bench's sender and terminal reader)."""
    import infra

    pids = {stage.name: stage.process.pid for stage in stages}
    pids.update({part.name: part.pid for part in infra.status(settings) if part.pid is not None and part.state == "running"})
    pids["bench (sender, reader)"] = os.getpid()
    return pids


def _bare(settings: Settings, count: int, window: int, console) -> Figure:
    """``bench_smpp.bare_loop``: submit_sm and every receipt answered, one thread, against the chain's SMSC."""
    from courrier.bench_smpp import bare_loop

    with console.status(f"bare SMPP submit/DLR loop: {count:,} submit_sm, window {window}"):
        loop = bare_loop(settings, count, window)
    host, port = settings.smpp_address
    return Figure("bare SMPP submit/DLR loop (one thread, pre-encoded)", loop.receipts, loop.delivered_s,
                  f"{host}:{port}; submits alone {loop.rate:,.0f}/s; {loop.refused:,} refused")


@contextmanager
def removed(settings: Settings, prefix: str) -> Iterator[None]:
    """Whatever happens in the block, every topic and consumer group under ``prefix`` is deleted after it."""
    try:
        yield
    finally:
        from confluent_kafka.admin import AdminClient

        from topology.apply import remove as remove_topics

        remove_topics(settings.model_copy(update={"topic_prefix": prefix}))
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": logging.getLogger("librdkafka")})
        groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=10).result().valid if g.group_id.startswith(prefix)]
        for future in (admin.delete_consumer_groups(groups, request_timeout=30).values() if groups else ()):
            future.exception()


def _topics_left(settings: Settings, prefixes: list[str]) -> int:
    from confluent_kafka.admin import AdminClient

    names = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "logger": logging.getLogger("librdkafka")}).list_topics(timeout=10).topics
    return sum(1 for name in names if any(name.startswith(p) for p in prefixes))


class _Arrivals:
    """Counts records arriving at a topic from now on."""

    def __init__(self, settings: Settings, physical: str) -> None:
        from confluent_kafka import Consumer

        from common.kafka_clients import assign_at_end, consumer_config

        self._consumer = Consumer(consumer_config(settings, f"bench-end-{uuid.uuid4()}"))
        assign_at_end(self._consumer, [physical])
        self.seen = 0

    def close(self) -> None:
        self._consumer.close()

    def poll(self) -> None:
        for message in self._consumer.consume(5000, 0.1):
            if message.error() is None:
                self.take(message.value())

    def take(self, value: bytes) -> None:
        self.seen += 1


class _Terminal(_Arrivals):
    """Counts messages whose terminal receipt arrived (each once, whatever else their receipts say), by status."""

    def __init__(self, settings: Settings) -> None:
        from processors.receipts import TERMINAL_STATUSES
        from processors.runtime.serde import AvroSerde

        super().__init__(settings, settings.topic("receipt"))
        self._serde = AvroSerde(settings.registry_url, settings.topic)
        self._terminal = TERMINAL_STATUSES
        self._ended: set[str] = set()
        self.statuses: Counter[str] = Counter()

    def take(self, value: bytes) -> None:
        receipt = self._serde.decode("receipt", value)
        message_id = receipt["context"]["message_id"]
        if receipt["status"] in self._terminal and message_id not in self._ended:
            self._ended.add(message_id)
            self.statuses[receipt["status"]] += 1
            self.seen += 1


def _produce(producer, topic: str, payload: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value=payload)
            break
        except BufferError:
            producer.poll(0.05)


def _send_and_wait(console, label: str, send_one: Callable[[], None], end: _Arrivals, count: int, timeout_s: float,
                   flush: Callable[[], object], log_dir=None) -> None:
    """Publish ``count`` records, then wait until ``count`` more have come out at the end; ``TimeoutError`` otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    target = end.seen + count
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task(label, total=count)
        for _ in range(count):
            send_one()
        flush()
        deadline = time.monotonic() + timeout_s
        while end.seen < target and time.monotonic() < deadline:
            end.poll()
            progress.update(task, completed=count - (target - end.seen))
    if end.seen < target:
        where = f"; see {log_dir}" if log_dir is not None else ""
        raise TimeoutError(f"{label}: only {count - (target - end.seen)} of {count} came out within {timeout_s:.0f}s{where}")
