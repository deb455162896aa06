"""``courrier fuzz``: malformed records on every stage's input topic, each of which must be answered and none fatal.

Publishes ``count`` records per input topic (``courrier.fuzz_records``: random bytes, unknown and foreign
schema ids, valid records with absurd values), then watches ``dead-letter`` and ``receipt`` until each
record is accounted for: dead-lettered (its key, or its id inside the dead-lettered bytes), or answered by
a receipt of its message id (``rejected`` for REJECTED/FAILED/EXPIRED/SUPPRESSED/UNDELIVERED, ``other``
for any other status). What is neither by the deadline is ``lost``. The run passes when nothing is lost
and every stage is still running.

The stages run as processes (``courrier run``), under a topic prefix of the run's own (``fuzz-<8 hex>-``,
removed at the end) unless ``COURRIER_TOPIC_PREFIX`` names one, whose topics are kept.
"""
from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import typer
from confluent_kafka import Consumer, Producer

from common import logs
from common.config import Settings, get_settings
from common.errors import CourrierError
from common.kafka_clients import assign_at_end, consumer_config, producer_config, require_broker
import schemas
from courrier.fuzz_records import KINDS, FuzzRecord, records
from courrier.processes import PIPELINE, StageProcess, start_pipeline, stop_all
from processors.runtime import policy
from processors.runtime.serde import AvroSerde
from topology.topics import TOPICS, topic as declared

REJECTING = frozenset({"REJECTED", "FAILED", "EXPIRED", "SUPPRESSED", "UNDELIVERED"})


class FuzzError(CourrierError):
    """A topic that is no stage's input was named."""


def input_topics() -> list[str]:
    """The topics a pipeline stage reads as a stream of one schema (not its tables, not the scheduler's delay topics)."""
    return [t.name for t in TOPICS if t.value_schema and not t.compacted and set(t.readers) & set(PIPELINE)]


@dataclass
class TopicFigures:
    """What became of one topic's fuzz records."""

    records: int = 0
    dead_lettered: int = 0
    rejected: int = 0
    other: int = 0

    @property
    def lost(self) -> int:
        return self.records - self.dead_lettered - self.rejected - self.other


@dataclass
class FuzzReport:
    """Per topic figures, outcomes per kind, the stages that exited (name, code, last log lines), and the time taken."""

    topics: dict[str, TopicFigures]
    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, stage: error class) of dead-lettered records
    exited: list[tuple[str, int | None, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def lost(self) -> int:
        return sum(f.lost for f in self.topics.values())

    @property
    def passed(self) -> bool:
        return self.lost == 0 and not self.exited


class _Accounts:
    """The fate of each published record, read from ``dead-letter`` and ``receipt``."""

    def __init__(self, run: str, sent: Sequence[FuzzRecord]) -> None:
        self._by_id = {r.fuzz_id: r for r in sent}
        self.fate: dict[str, str] = {}
        self.errors: Counter[tuple[str, str]] = Counter()
        self._ids = re.compile(rb"fuzz-" + re.escape(run.encode()) + rb"-[a-z-]+?-\d{7}")

    def dead_letter(self, key: bytes | None, value: bytes | None, error: str) -> None:
        found = {m.decode() for m in self._ids.findall((key or b"") + b" " + (value or b""))}
        for fuzz_id in found & self._by_id.keys():
            if fuzz_id not in self.fate:
                self.fate[fuzz_id] = "dead_lettered"
                self.errors[(self._by_id[fuzz_id].kind, error)] += 1

    def receipt(self, message_id: str, status: str) -> None:
        if message_id in self._by_id:
            self.fate.setdefault(message_id, "rejected" if status in REJECTING else "other")

    def complete(self) -> bool:
        return len(self.fate) >= len(self._by_id)

    def report(self, topics: Iterable[str]) -> FuzzReport:
        figures = {t: TopicFigures() for t in topics}
        kinds: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
        for fuzz_id, record in self._by_id.items():
            fate = self.fate.get(fuzz_id, "lost")
            figures[record.topic].records += 1
            if fate != "lost":
                setattr(figures[record.topic], fate, getattr(figures[record.topic], fate) + 1)
            kinds[record.kind][fate] += 1
        return FuzzReport(figures, {k: c for k, c in kinds.items() if c}, self.errors)


def publish(settings: Settings, sent: Sequence[FuzzRecord]) -> None:
    """Write the records as they are (no schema check), keyed by fuzz id; ``CourrierError`` when the broker refuses one."""
    producer = Producer(producer_config(settings))
    errors: list[str] = []
    for record in sent:
        producer.produce(settings.topic(record.topic), record.value, record.fuzz_id.encode(),
                         on_delivery=lambda err, _msg: errors.append(str(err)) if err else None)
        producer.poll(0)
    producer.flush(60)
    if errors:
        raise CourrierError(f"the broker refused {len(errors)} fuzz records: {errors[0]}")


def make_records(settings: Settings, topics: Sequence[str], count: int, seed: int, run: str) -> list[FuzzRecord]:
    """``count`` malformed records per topic, encoded with the registry's ids for the run's topics."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    parsed = {t: schemas.parsed_schema(str(declared(t).value_schema)) for t in input_topics()}
    rng = random.Random(seed)
    made: list[FuzzRecord] = []
    for name in topics:
        made += records(name, count, rng, run, serde.encode, parsed)
    return made


def watch(settings: Settings, accounts: _Accounts, consumer: Consumer, timeout_s: float, stages: Sequence[StageProcess]) -> None:
    """Read ``dead-letter`` and ``receipt`` until every record is accounted for, ``timeout_s`` passes or a stage exits."""
    serde = AvroSerde(settings.registry_url, settings.topic)
    receipt_topic = settings.topic("receipt")
    deadline = time.monotonic() + timeout_s
    while not accounts.complete() and time.monotonic() < deadline and all(s.alive() for s in stages):
        for message in consumer.consume(1000, 0.5):
            if message.error():
                continue
            if message.topic() == receipt_topic:
                value = serde.decode("receipt", message.value())
                accounts.receipt(value["context"]["message_id"], value["status"])
            else:
                headers = message.headers() or []
                error = f"{policy.header(headers, policy.STAGE)}: {policy.header(headers, policy.ERROR_CLASS)}"
                accounts.dead_letter(message.key(), message.value(), error)


def run_fuzz(settings: Settings, count: int, topics: Sequence[str] | None = None, seed: int = 20, timeout_s: float = 120.0,
             log_dir: Path | None = None) -> FuzzReport:
    """Start the pipeline, publish ``count`` malformed records per topic (every input topic by default), account for them.

    Quiet hours are off (an absurd marketing record would otherwise be deferred, not answered, at night) and so is
    pacing (absurd senders would each wait for a budget).
    """
    chosen = list(topics or input_topics())
    unknown = sorted(set(chosen) - set(input_topics()))
    if unknown:
        raise FuzzError(f"not a stage input topic: {', '.join(unknown)}; choose among {', '.join(input_topics())}")
    require_broker(settings)
    from topology.apply import apply, remove

    own_topics = not settings.topic_prefix
    run = uuid.uuid4().hex[:8]
    settings = settings.model_copy(update={"quiet_hours_enabled": False, "dispatch_pacing": False,
                                           "topic_prefix": settings.topic_prefix or f"fuzz-{run}-"})
    stages: list[StageProcess] = []
    started = time.monotonic()
    try:
        apply(settings)
        wait_for_leaders(settings, [t.name for t in TOPICS])
        sent = make_records(settings, chosen, count, seed, run)
        consumer = Consumer(consumer_config(settings, f"courrier-fuzz-{run}"))
        try:
            assign_at_end(consumer, [settings.topic("dead-letter"), settings.topic("receipt")])
            stages = start_pipeline(settings, log_dir or settings.state_dir / "logs" / f"fuzz-{run}")
            wait_for_readers(settings, chosen, stages)
            publish(settings, sent)
            accounts = _Accounts(run, sent)
            watch(settings, accounts, consumer, timeout_s, stages)
        finally:
            consumer.close()
        report = accounts.report(chosen)
        report.exited = [(s.name, s.process.returncode, _tail(s.log_path)) for s in stages if not s.alive()]
        report.elapsed_s = time.monotonic() - started
        return report
    finally:
        stop_all(stages)
        if own_topics:
            remove(settings)


def wait_for_leaders(settings: Settings, topics: Iterable[str], timeout_s: float = 60.0) -> None:
    """Wait until every partition of these topics has a leader: a stage subscribing to a topic created a moment ago may
    otherwise be told it does not exist and not look again for minutes (librdkafka's metadata refresh)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    names = {settings.topic(t) for t in topics}
    deadline = time.monotonic() + timeout_s
    while True:
        listed = admin.list_topics(timeout=10).topics
        missing = [n for n in names if n not in listed or listed[n].error is not None
                   or not listed[n].partitions or any(p.leader < 0 for p in listed[n].partitions.values())]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise CourrierError(f"topics without a leader after {timeout_s:.0f} s: {', '.join(sorted(missing))}")
        time.sleep(0.5)


def wait_for_readers(settings: Settings, topics: Iterable[str], stages: Sequence[StageProcess], timeout_s: float = 60.0) -> None:
    """Wait until every partition of these topics is assigned to a member of one of the run's consumer groups, so the
    figures measure the stages and not their start; ``CourrierError`` naming the topics still unread."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    wanted = {settings.topic(t) for t in topics}
    deadline = time.monotonic() + timeout_s
    while True:
        listed = admin.list_topics(timeout=10).topics
        partitions = {(n, p) for n in wanted if n in listed for p in listed[n].partitions}
        groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid
                  if g.group_id.startswith(settings.topic_prefix)]
        assigned: set[tuple[str, int]] = set()
        for future in (admin.describe_consumer_groups(groups).values() if groups else ()):
            for member in future.result(timeout=10).members:
                assigned |= {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
        unread = sorted({n for n, _p in partitions - assigned} | (wanted - set(listed)))
        if not unread:
            return
        if time.monotonic() > deadline or not all(s.alive() for s in stages):
            raise CourrierError(f"no stage reads {', '.join(unread)} after {timeout_s:.0f} s (see the stages' logs)")
        time.sleep(1.0)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def command(
    count: int = typer.Option(100, "--count", min=1, max=1_000_000, help="Malformed records per input topic."),
    topic: Optional[list[str]] = typer.Option(None, "--topic", help="An input topic to fuzz (repeatable); every stage input when omitted."),
    seed: int = typer.Option(20, "--seed", help="Seed of the records' randomness: same seed, same records."),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="Seconds to wait for every record to be accounted for."),
    as_json: bool = typer.Option(False, "--json", help="The figures as one JSON object instead of a table."),
) -> None:
    """Publish COUNT malformed records per stage input topic (random bytes, unknown and foreign schema ids, absurd values)
    with the pipeline running; each must end dead-lettered or answered by a receipt, and no stage may exit (else exit 1)."""
    logs.configure("WARNING")
    report = run_fuzz(get_settings(), count, topic or None, seed=seed, timeout_s=timeout)
    if as_json:
        typer.echo(json.dumps(figures(report)))
    else:
        _print(report)
    if not report.passed:
        raise typer.Exit(1)


def figures(report: FuzzReport) -> dict[str, object]:
    """The report as plain data: per topic records, dead_lettered, rejected, other and lost; per kind the fates."""
    return {
        "topics": {t: {**asdict(f), "lost": f.lost} for t, f in report.topics.items()},
        "kinds": {k: dict(c) for k, c in report.kinds.items()},
        "dead_letter_errors": [{"kind": k, "error": e, "records": n} for (k, e), n in sorted(report.errors.items())],
        "lost": report.lost, "exited": [name for name, _code, _log in report.exited], "elapsed_s": round(report.elapsed_s, 1),
    }


def _print(report: FuzzReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"courrier fuzz ({report.elapsed_s:.0f} s)")
    for column in ("topic", "records", "dead-lettered", "rejected", "other receipt", "lost"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for name, f in report.topics.items():
        table.add_row(name, str(f.records), str(f.dead_lettered), str(f.rejected), str(f.other), str(f.lost))
    total = [sum(getattr(f, a) for f in report.topics.values()) for a in ("records", "dead_lettered", "rejected", "other", "lost")]
    table.add_row("total", *map(str, total))
    console.print(table)
    for kind, fates in report.kinds.items():
        console.print(f"{kind}: " + ", ".join(f"{fate} {n}" for fate, n in sorted(fates.items())))
    for (kind, error), n in sorted(report.errors.items()):
        console.print(f"  dead-lettered {kind} by {error}: {n}")
    for name, code, tail in report.exited:
        console.print(f"[red]stage {name} exited ({code})[/]; its log ends:\n{tail}")
    console.print("[green]passed[/]: nothing lost, every stage running" if report.passed else "[red]failed[/]")
