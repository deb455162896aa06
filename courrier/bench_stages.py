"""``courrier bench stages``: CPU per record of each stage's logic and serde, in process, beside a fastavro baseline.

No broker, no registry: each stage runs in ``processors.runtime.testing.StageHarness`` (the runner's own routing:
decode, process, encode, dead-letter) on synthetic records, the stages chained in memory: ``send-requested`` →
consent → ``consent-checked`` → channel → ``channel-resolved`` → render → ``rendered`` → dispatch, unpaced, through
the no-op provider. Dispatch's ledger is a dict here (``MemoryLedger``, each record encoded as the real ledger encodes
it) and its provider events are encoded and acknowledged at once: the figure is dispatch's CPU, not a broker's wait. Only ``StageHarness.run`` is timed (what a
stage process spends per batch between the consumer and the producer); the records are fed, encoded, before. Times are
the process's CPU time (``time.process_time``), not the wall clock: on a shared machine the wall clock counts the
other processes' turns too.

Beside each stage: the same records' input decoded and its outputs encoded by bare fastavro calls
(``schemaless_reader``/``schemaless_writer`` on parsed schemas), the floor any Avro stage pays. Every recipient is a
different number (the phone-number cache never helps: the worst case of a campaign of new numbers) unless
``repeat`` says how many times each number comes back.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import random
import time
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import typer

from common import logs
from processors.runtime.stage import Event, Output, Stage
from topology.topics import lane_inputs

if TYPE_CHECKING:
    from processors.runtime.testing import Produced

BATCH = 500
GROUP = "promotions"
# Mobile ranges phonenumbers accepts (as the demo's), and the digits appended to each.
PREFIXES = (("+3361", 7), ("+4670", 7), ("+447400", 6), ("+49151", 8), ("+1201555", 4))
# A weekday morning: quiet hours let marketing through in every region above, so no record is deferred.
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
STAGES = ("consent", "channel", "render", "dispatch", "receipt")


@dataclass(frozen=True)
class StageFigure:
    """One stage's CPU per record in the harness, its fastavro floor, and what it wrote."""

    stage: str
    records: int
    us_per_record: float
    avro_floor_us: float
    outputs: dict[str, int]


def requests(count: int, repeat: int = 1, seed: int = 19) -> tuple[list[Event], dict[str, Event]]:
    """``count`` send-requested values (OTPs, order updates with RCS→SMS fallback, opted-in marketing), each number
    used ``repeat`` times, and the consent rows (by ``consent_key``) the marketing ones need."""
    from processors.rules.consent import consent_key

    rng = random.Random(seed)
    numbers = []
    for _ in range(max(1, count // max(1, repeat))):
        prefix, digits = rng.choice(PREFIXES)
        numbers.append(prefix + "".join(rng.choice("0123456789") for _ in range(digits)))
    consents: dict[str, Event] = {}
    events: list[Event] = []
    for i in range(count):
        number = numbers[i % len(numbers)]
        roll = rng.random()
        lane, group, campaign, variant = "TRANSACTIONAL", None, None, None
        if roll < 0.4:
            template, variables, policy = "otp", {"code": f"{rng.randint(0, 999_999):06d}"}, "SMS"
        elif roll < 0.7:
            template, variables, policy = "order_shipped", {"first_name": "Léa", "order_id": f"A{i:05d}"}, "RCS_WITH_SMS_FALLBACK"
        else:
            template, variables, policy = "promo_spring", {"first_name": "Alex", "discount": "20"}, "SMS"
            lane, group, campaign, variant = "MARKETING", GROUP, "spring", rng.choice("AB")
        events.append({
            "context": {"message_id": f"m-{i:08d}", "idempotency_key": None, "campaign_id": campaign, "variant": variant,
                        "lane": lane, "subscription_group": group, "requested_at": NOW, "source": "bench"},
            "recipient": number, "default_region": None, "template_id": template, "variables": variables,
            "channel_policy": policy, "send_at": None, "validity_seconds": None, "locale": None, "time_zone": None,
            "sms_fallback_after_s": None,
        })
        if group is not None:
            consents[consent_key(number, group)] = {
                "e164": number, "subscription_group": group, "status": "OPTED_IN", "basis": "MARKETING", "source": "bench",
                "evidence": None, "changed_at": datetime(2026, 1, 5, tzinfo=timezone.utc)}
    return events, consents


class MemoryLedger:
    """Dispatch's submissions ledger (``processors.dispatch.release.Ledger``) in a dict: the last record per message id.
    Each write is encoded as ``SubmissionLedger`` encodes it, so its CPU is counted; nothing waits for a broker."""

    def __init__(self, encode: Callable[[str, Event], bytes]) -> None:
        self._encode = encode
        self._records: dict[str, Event] = {}
        self.sink = EncodingSink(encode)  # the provider events dispatch produced, receipt's input

    def start(self) -> None:
        """Nothing to load."""

    def stop(self) -> None:
        """Nothing to flush."""

    def state(self, message_id: str) -> Event | None:
        return self._records.get(message_id)

    def write(self, records: Iterable[Event]) -> None:
        self.write_later(records)

    def write_later(self, records: Iterable[Event]) -> None:
        written = list(records)
        for record in written:
            self._encode("submissions", record)
        self.remember(written)

    def remember(self, records: Iterable[Event]) -> list[Output]:
        from processors.dispatch.logic import ledger_output

        written = list(records)
        for record in written:
            self._records[record["message_id"]] = record
        return [ledger_output(record) for record in written]  # encoded by the routing, as the ledger's own encode would

    def event_sink(self) -> "EncodingSink":
        return self.sink


class EncodedTable(Mapping[str, Event]):
    """A compacted topic's rows as ``runtime.table.TopicTable`` keeps them: the records' bytes, decoded on each lookup,
    answered as they are (``raw``), and a row encoded as the topic holds it (``encode``), with the serde ``serde`` (the
    harness's, set by ``measure``). ``take`` is the table following the topic (outside the timed part: another thread's
    work in a stage)."""

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._rows: dict[str, bytes] = {}
        self.serde: Any = None

    def take(self, produced: Sequence["Produced"]) -> None:
        for record in produced:
            self._rows[str(record.key)] = record.value  # type: ignore[assignment]  # a table row is never a tombstone here

    def raw(self, key: str) -> bytes | None:
        return self._rows.get(key)

    def encode(self, row: Event) -> bytes:
        return self.serde.encode(self._topic, row)

    def __getitem__(self, key: str) -> Event:
        return self.serde.decode(self._topic, self._rows[key])

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self._rows else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class EncodingSink:
    """Provider events encoded as ``KafkaEventSink`` encodes them, each acknowledged at once and kept in ``events``
    (the receipt stage's input)."""

    def __init__(self, encode: Callable[[str, Event], bytes]) -> None:
        self._encode = encode
        self.events: list[Output] = []

    def start(self) -> None:
        """Nothing to connect."""

    def stop(self) -> None:
        """Nothing to flush."""

    def produce(self, output: Output, done: Callable[[str | None], None]) -> None:
        self._encode(output.topic, output.value)  # type: ignore[arg-type]
        self.events.append(output)
        done(None)


def _encoder() -> Callable[[str, Event], bytes]:
    """A logical topic's value to its Avro body with bare fastavro (the schemas parsed once)."""
    from fastavro import schemaless_writer

    def encode(topic: str, value: Event) -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, _schema(topic), value)
        return buffer.getvalue()
    return encode


def _stage_encoder() -> Callable[[str, Event], bytes]:
    """A logical topic's value to its Avro body as a stage's ``AvroSerde`` encodes it (cavro)."""
    def encode(topic: str, value: Event) -> bytes:
        return _compiled(topic).binary_encode(value)
    return encode


@lru_cache(maxsize=None)
def _compiled(topic: str) -> Any:
    import schemas
    from processors.runtime.serde import compiled
    from topology.topics import topic as declared

    return compiled(schemas.schema_json(declared(topic).value_schema))  # type: ignore[arg-type]


@lru_cache(maxsize=None)
def _schema(topic: str) -> dict[str, Any]:
    import schemas
    from topology.topics import topic as declared

    return schemas.parsed_schema(declared(topic).value_schema)  # type: ignore[arg-type]


def build_stages(consents: dict[str, Event], states: EncodedTable, ledger: "MemoryLedger") -> dict[str, Stage]:
    """The stages as ``courrier run`` builds them on default settings, with dicts for tables, no RCS provider,
    dispatch unpaced on the no-op provider with ``ledger``, and receipt on ``states`` (its ``message-state``)."""
    from processors.channel.stage import ChannelStage
    from processors.consent.stage import ConsentStage
    from processors.dispatch.stage import DispatchStage, ProviderSpec
    from processors.dispatch.validity import Validity
    from processors.providers.noop.adapter import CHANNELS, NoopProvider
    from processors.receipt.stage import ReceiptStage
    from processors.render.stage import RenderStage

    dispatch = DispatchStage([ProviderSpec(NoopProvider, CHANNELS)], ledger, CHANNELS,
                             inputs=("rendered",), consents=consents, validity=Validity())
    return {"consent": ConsentStage(consents), "channel": ChannelStage(), "render": RenderStage(), "dispatch": dispatch,
            "receipt": ReceiptStage(states)}


Fed = tuple[str, "str | bytes | None", Event]
"""An input record: its logical topic, key and value."""


def measure(stage: Stage, inputs: Sequence[Fed], profile: cProfile.Profile | None = None,
            table: EncodedTable | None = None) -> tuple[float, list[Fed]]:
    """CPU seconds of ``StageHarness.run`` over ``inputs`` in batches of ``BATCH``, and every record it wrote (under the
    topic whose schema wrote it). With ``profile``, only the timed part is profiled. ``table`` takes each batch's
    ``message-state`` records after it, untimed, as a stage's table reads its own writes back."""
    from processors.runtime.testing import StageHarness

    harness = StageHarness(stage, clock=lambda: NOW)
    if table is not None:
        table.serde = harness.serde
    spent = 0.0
    # One more batch after the inputs: what a stage sends with its next batch (dispatch's delivery reports) goes out.
    for start in [*range(0, len(inputs), BATCH), len(inputs)]:
        for topic, key, value in inputs[start:start + BATCH]:
            harness.feed(topic, value, key=key)
        if profile is not None:
            profile.enable()
        began = time.process_time()
        produced = harness.run(now=NOW)
        spent += time.process_time() - began
        if profile is not None:
            profile.disable()
        if table is not None:
            table.take(produced.get("message-state", []))
    written = [(_schema_topic(o), o.key, o.event) for produced in harness.outputs.values() for o in produced]
    harness.close()
    return spent, written


def _schema_topic(record: "Produced") -> str:
    """The topic whose schema wrote ``record``: its own, or for a delay topic (``timers``, ``retry``…) its target's."""
    from processors.runtime import policy
    from topology.topics import topic as declared

    if declared(record.topic).value_schema is not None:
        return record.topic
    return record.header(policy.TARGET_TOPIC) or record.header(policy.SOURCE_TOPIC) or record.topic


def avro_floor(inputs: Sequence[Fed], written: Sequence[Fed]) -> float:
    """CPU seconds bare fastavro takes to decode ``inputs`` and encode what was ``written``, each with its topic's schema."""
    from fastavro import schemaless_reader

    encode = _encoder()
    bodies = [(_schema(topic), encode(topic, value)) for topic, _key, value in inputs]
    began = time.process_time()
    for schema, body in bodies:
        schemaless_reader(io.BytesIO(body), schema, None)
    for topic, _key, value in written:
        encode(topic, value)
    return time.process_time() - began


def bench_stages(count: int, repeat: int = 1, profile_stage: str | None = None, rounds: int = 1,
                 show: Callable[[str], None] = print) -> list[StageFigure]:
    """Run the stages chained on ``count`` requests, ``rounds`` times on fresh stages (the phone-number cache emptied);
    one ``StageFigure`` per stage, its fastest round beside the fastest floor: on a shared machine the slower ones
    measure the neighbours too.
    ``profile_stage`` prints that stage's cProfile (top 25 by own time, first round) through ``show``."""
    events, consents = requests(count, repeat)
    runs: dict[str, list[StageFigure]] = {}
    for round_number in range(rounds):
        for figure in _round(events, consents, profile_stage if round_number == 0 else None, show):
            runs.setdefault(figure.stage, []).append(figure)
    return [replace(min(found, key=lambda f: f.us_per_record), avro_floor_us=min(f.avro_floor_us for f in found))
            for found in runs.values()]


def _round(events: list[Event], consents: dict[str, Event], profile_stage: str | None,
           show: Callable[[str], None]) -> list[StageFigure]:
    from processors.rules import numbers

    numbers.clear_cache()
    states = EncodedTable("message-state")
    ledger = MemoryLedger(_stage_encoder())
    stages = build_stages(consents, states, ledger)
    inputs: list[Fed] = [("send-requested", event["recipient"], event) for event in events]
    figures = []
    for name in STAGES:
        profile = cProfile.Profile() if name == profile_stage else None
        seconds, written = measure(stages[name], inputs, profile, states if name == "receipt" else None)
        floor = avro_floor(inputs, written)
        figures.append(StageFigure(name, len(inputs), seconds / len(inputs) * 1e6, floor / len(inputs) * 1e6,
                                   dict(Counter(topic for topic, _key, _value in written))))
        if profile is not None:
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(25)
            show(text.getvalue())
        if name == "dispatch":
            inputs = _receipt_inputs(written, ledger.sink.events)
        elif name != STAGES[-1]:
            reads = lane_inputs(stages[STAGES[STAGES.index(name) + 1]].inputs, None)  # every lane's, as the harness
            inputs = [record for record in written if record[0] in reads]
        if not inputs:
            break
    return figures


def _receipt_inputs(written: list[Fed], events: list[Output]) -> list[Fed]:
    """What receipt reads of dispatch's work: its ``dispatched`` records and its provider ``events``, by half a batch of
    each in turn, a message's ``dispatched`` before its report (as a real receipt stage reads them: the reports go out
    after the batch that submitted them)."""
    submitted = [record for record in written if record[0] == "dispatched"]
    reports: list[Fed] = [(o.topic, o.key, o.value) for o in events]
    inputs: list[Fed] = []
    for start in range(0, max(len(submitted), len(reports)), BATCH // 2):
        inputs += submitted[start:start + BATCH // 2] + reports[start:start + BATCH // 2]
    return inputs


def command(
    count: int = typer.Option(10_000, "--count", min=BATCH, max=1_000_000, help="send-requested records fed to consent."),
    repeat: int = typer.Option(1, "--repeat", min=1, max=1_000, help="How many times each recipient number comes back."),
    profile: str = typer.Option("", "--profile", help=f"Print the cProfile of one stage: {', '.join(STAGES)}."),
    rounds: int = typer.Option(3, "--rounds", min=1, max=20, help="Runs on fresh stages; each stage's fastest is shown."),
) -> None:
    """CPU per record of consent, channel, render, dispatch and receipt in process (routing, Avro, logic), beside bare fastavro."""
    from rich.console import Console
    from rich.table import Table

    from processors.runtime.collector import tune_for_streaming
    from processors.runtime.heap import limit_arenas

    if profile and profile not in STAGES:
        raise typer.BadParameter(f"takes one of {', '.join(STAGES)}, not {profile!r}", param_hint="--profile")
    limit_arenas()
    logs.configure("ERROR")
    tune_for_streaming()  # the heap and the collector as `courrier run` sets them, so the figures are the stages' as they run
    console = Console()
    figures = bench_stages(count, repeat, profile or None, rounds, show=console.out)
    table = Table(title=f"in-process CPU per record, {count:,} requests, batches of {BATCH}, fastest of {rounds} rounds")
    for column in ("stage", "records", "µs/record", "fastavro µs", "ratio", "written per record"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for figure in figures:
        table.add_row(figure.stage, f"{figure.records:,}", f"{figure.us_per_record:.1f}", f"{figure.avro_floor_us:.1f}",
                      f"{figure.us_per_record / figure.avro_floor_us:.1f}×" if figure.avro_floor_us else "-",
                      f"{sum(figure.outputs.values()) / figure.records:.2f}")
    console.print(table)
    console.print("fastavro µs: bare schemaless_reader of the inputs and schemaless_writer of what the stage wrote")
    total = sum(f.us_per_record * f.records for f in figures) / count
    console.print(f"total {total:.1f} µs per request across the stages (receipt reads about two records per request)")
