"""``courrier bench chain``: the five stages end to end next to a raw passthrough over five hops, on the same broker.

The chain runs twice in the same sitting, exactly-once (the default) and at-least-once, so the cost of one Kafka
transaction per batch in every stage is a ratio measured on the same machine at the same moment. Every pipeline runs
as separate processes and removes its topics afterwards; each is warmed up with one message, then ``count``
messages are published as fast as possible and the clock runs until the last one comes out of
the fifth hop (for the chain: the ``sent`` receipt the receipt stage writes after dispatch).
"""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

import infra
from courrier.client import CourrierClient
from courrier.config import Settings
from courrier.processes import settings_env, start_stage, stop_all
from processors.runtime.clients import assign_at_end, consumer_config, producer_config
from processors.runtime.serde import AvroSerde
from topology.apply import apply as apply_topology, remove as remove_topics

CHAIN = ("consent", "channel", "render", "dispatch", "receipt", "scheduler")  # the scheduler brings back retried records (e.g. a report that overtook its dispatched event)


@dataclass(frozen=True)
class Figure:
    """One measured run."""

    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def bench_chain(settings: Settings, count: int) -> tuple[Figure, Figure]:
    """Measure both pipelines and print a table with their ratio."""
    console = Console()
    started_parts = infra.ensure_running(settings)
    try:
        raw = _raw_passthrough(settings, count, console)
        chain = _courrier_chain(settings, count, console)
        at_least_once = _courrier_chain(settings, count, console, exactly_once=False)
    finally:
        if started_parts:
            infra.stop(settings, started_parts)
    table = Table(title=f"{count} messages through five hops ({settings.partitions} partitions, broker {settings.bootstrap_servers})")
    for column in ("pipeline", "messages", "seconds", "msg/s"):
        table.add_column(column, justify="left" if column == "pipeline" else "right")
    for figure in (raw, chain, at_least_once):
        table.add_row(figure.name, str(figure.count), f"{figure.seconds:.2f}", f"{figure.rate:,.0f}")
    console.print(table)
    console.print(f"courrier chain / raw passthrough = {chain.rate / raw.rate:.2f}" if raw.rate else "raw passthrough did not run")
    if at_least_once.rate:
        console.print(f"exactly-once / at-least-once = {chain.rate / at_least_once.rate:.2f} "
                      f"(the cost of one transaction per batch in every stage)")
    return raw, chain


def _raw_passthrough(settings: Settings, count: int, console: Console) -> Figure:
    run = uuid.uuid4().hex[:8]
    topics = [f"bench-raw-{run}-{i}" for i in range(6)]
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    for future in admin.create_topics([NewTopic(t, settings.partitions, settings.replication_factor) for t in topics]).values():
        future.result()
    env = settings_env(settings)
    hops = [subprocess.Popen([sys.executable, "-m", "courrier.passthrough", topics[i], topics[i + 1], f"bench-raw-{run}-{i}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(5)]
    try:
        end = _EndCounter(settings, topics[-1])
        producer = Producer(producer_config(settings))
        payload = b"\0" * 200
        _send_and_wait(console, "raw warm-up", lambda: _produce(producer, topics[0], payload), end, 1, timeout_s=120)
        started = time.monotonic()
        _send_and_wait(console, "raw passthrough", lambda: _produce(producer, topics[0], payload), end, count, timeout_s=600,
                       producer=producer)
        return Figure("raw confluent-kafka passthrough", count, time.monotonic() - started)
    finally:
        for process in hops:
            process.terminate()
        for process in hops:
            process.wait(30)
        admin.delete_topics(topics)


def _courrier_chain(settings: Settings, count: int, console: Console, exactly_once: bool = True) -> Figure:
    # Unpaced: the simulator has no carrier limits, and the figure is the pipeline's own throughput.
    chain_settings = settings.model_copy(update={"topic_prefix": f"bench-{uuid.uuid4().hex[:8]}-", "dispatch_pacing": False})
    apply_topology(chain_settings)
    guarantee = "exactly-once" if exactly_once else "at-least-once"
    stages = [start_stage(name, chain_settings, settings.state_dir / "logs" / "bench", [f"--{guarantee}"]) for name in CHAIN]
    try:
        end = _EndCounter(chain_settings, chain_settings.topic("receipt"), AvroSerde(chain_settings.registry_url, chain_settings.topic))
        client = CourrierClient(chain_settings, source="bench")
        numbers = iter(range(10**7))

        def send_one() -> None:
            client.send(f"+3361{next(numbers) % 10**7:07d}", "otp", {"code": "424242"}, lane="TRANSACTIONAL")

        _send_and_wait(console, f"chain warm-up ({guarantee})", send_one, end, 1, timeout_s=180)
        started = time.monotonic()
        _send_and_wait(console, f"courrier chain ({guarantee})", send_one, end, count, timeout_s=900, flush=client.flush)
        end.close()
        return Figure(f"courrier chain (5 stages, Avro, SMPP, {guarantee})", count, time.monotonic() - started)
    finally:
        stop_all(stages)
        remove_topics(chain_settings)


class _EndCounter:
    """Counts records arriving at the last topic from now on (for the chain: ``sent`` receipts only)."""

    def __init__(self, settings: Settings, physical: str, serde: AvroSerde | None = None) -> None:
        self._consumer = Consumer(consumer_config(settings, f"bench-end-{uuid.uuid4()}"))
        self._serde = serde
        assign_at_end(self._consumer, [physical])
        self.seen = 0

    def close(self) -> None:
        self._consumer.close()

    def poll(self) -> None:
        for message in self._consumer.consume(5000, 0.1):
            if message.error():
                continue
            if self._serde is None or self._serde.decode("receipt", message.value())["status"] == "SENT":
                self.seen += 1


def _produce(producer: Producer, topic: str, payload: bytes) -> None:
    while True:
        try:
            producer.produce(topic, value=payload)
            break
        except BufferError:
            producer.poll(0.05)


def _send_and_wait(console: Console, label: str, send_one, end: _EndCounter, count: int, timeout_s: float,
                   producer: Producer | None = None, flush=None) -> None:
    target = end.seen + count
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task(label, total=count)
        for _ in range(count):
            send_one()
        if producer is not None:
            producer.flush()
        if flush is not None:
            flush()
        deadline = time.monotonic() + timeout_s
        while end.seen < target and time.monotonic() < deadline:
            end.poll()
            progress.update(task, completed=count - (target - end.seen))
    if end.seen < target:
        raise TimeoutError(f"{label}: only {count - (target - end.seen)} of {count} messages came out within {timeout_s:.0f}s")
