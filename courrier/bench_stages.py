"""``courrier bench stages``: CPU per record of each stage's logic and serde, in process, beside a fastavro baseline.

No broker, no registry: each stage runs in ``processors.runtime.testing.StageHarness`` (the runner's own routing:
decode, process, encode, dead-letter) on synthetic records, the stages chained in memory: ``send-requested`` →
consent → ``consent-checked`` → channel → ``channel-resolved`` → render. Only ``StageHarness.run`` is timed (what a
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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import typer

from courrier import logs
from processors.runtime.stage import Event, Stage

BATCH = 500
GROUP = "promotions"
# Mobile ranges phonenumbers accepts (as the demo's), and the digits appended to each.
PREFIXES = (("+3361", 7), ("+4670", 7), ("+447400", 6), ("+49151", 8), ("+1201555", 4))
# A weekday morning: quiet hours let marketing through in every region above, so no record is deferred.
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
STAGES = ("consent", "channel", "render")


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


def build_stages(consents: dict[str, Event]) -> dict[str, Stage]:
    """The three stages as ``courrier run`` builds them on default settings, with dicts for tables and no RCS provider."""
    from processors.channel.stage import ChannelStage
    from processors.consent.stage import ConsentStage
    from processors.render.stage import RenderStage

    return {"consent": ConsentStage(consents), "channel": ChannelStage(), "render": RenderStage()}


def measure(stage: Stage, topic: str, inputs: Sequence[tuple[str | None, Event]],
            profile: cProfile.Profile | None = None) -> tuple[float, dict[str, list[Any]]]:
    """CPU seconds of ``StageHarness.run`` over ``inputs`` (key, value) in batches of ``BATCH``, and the outputs per topic
    as (key, value) pairs. With ``profile``, only the timed part is profiled."""
    from processors.runtime.testing import StageHarness

    harness = StageHarness(stage, clock=lambda: NOW)
    spent = 0.0
    for start in range(0, len(inputs), BATCH):
        for key, value in inputs[start:start + BATCH]:
            harness.feed(topic, value, key=key)
        if profile is not None:
            profile.enable()
        began = time.process_time()
        harness.run(now=NOW)
        spent += time.process_time() - began
        if profile is not None:
            profile.disable()
    outputs = {name: [(o.key, o.event) for o in produced] for name, produced in harness.outputs.items()}
    harness.close()
    return spent, outputs


def avro_floor(topic: str, values: Sequence[Event], outputs: dict[str, list[Any]]) -> float:
    """CPU seconds bare fastavro takes to decode ``values`` from ``topic`` and encode every output value with its schema."""
    from fastavro import schemaless_reader, schemaless_writer

    import schemas
    from topology.topics import topic as declared

    def parsed(name: str) -> dict[str, Any]:
        return schemas.parsed_schema(declared(name).value_schema)  # type: ignore[arg-type]

    source = parsed(topic)
    bodies = []
    for value in values:
        buffer = io.BytesIO()
        schemaless_writer(buffer, source, value)
        bodies.append(buffer.getvalue())
    written = [(parsed(name), value) for name, pairs in outputs.items() for _key, value in pairs]
    began = time.process_time()
    for body in bodies:
        schemaless_reader(io.BytesIO(body), source, None)
    for schema, value in written:
        schemaless_writer(io.BytesIO(), schema, value)
    return time.process_time() - began


def bench_stages(count: int, repeat: int = 1, profile_stage: str | None = None,
                 show: Callable[[str], None] = print) -> list[StageFigure]:
    """Run the three stages chained on ``count`` requests; one ``StageFigure`` each. ``profile_stage`` prints that
    stage's cProfile (top 25 by own time) through ``show``."""
    events, consents = requests(count, repeat)
    stages = build_stages(consents)
    flow = {"consent": ("send-requested", "consent-checked"), "channel": ("consent-checked", "channel-resolved"),
            "render": ("channel-resolved", "rendered")}
    inputs: list[tuple[str | None, Event]] = [(event["recipient"], event) for event in events]
    figures = []
    for name in STAGES:
        source, passes = flow[name]
        profile = cProfile.Profile() if name == profile_stage else None
        seconds, outputs = measure(stages[name], source, inputs, profile)
        floor = avro_floor(source, [value for _key, value in inputs], outputs)
        figures.append(StageFigure(name, len(inputs), seconds / len(inputs) * 1e6, floor / len(inputs) * 1e6,
                                   {topic: len(pairs) for topic, pairs in outputs.items()}))
        if profile is not None:
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(25)
            show(text.getvalue())
        inputs = outputs.get(passes, [])
        if not inputs:
            break
    return figures


def command(
    count: int = typer.Option(10_000, "--count", min=BATCH, max=1_000_000, help="send-requested records fed to consent."),
    repeat: int = typer.Option(1, "--repeat", min=1, max=1_000, help="How many times each recipient number comes back."),
    profile: str = typer.Option("", "--profile", help=f"Print the cProfile of one stage: {', '.join(STAGES)}."),
) -> None:
    """CPU per record of consent, channel and render in process (routing, Avro, logic), beside bare fastavro."""
    from rich.console import Console
    from rich.table import Table

    if profile and profile not in STAGES:
        raise typer.BadParameter(f"takes one of {', '.join(STAGES)}, not {profile!r}", param_hint="--profile")
    logs.configure("ERROR")
    console = Console()
    figures = bench_stages(count, repeat, profile or None, show=console.out)
    table = Table(title=f"in-process CPU per record, {count:,} requests, batches of {BATCH}")
    for column in ("stage", "records", "µs/record", "fastavro decode+encode µs", "ratio", "outputs"):
        table.add_column(column, justify="left" if column in ("stage", "outputs") else "right")
    for figure in figures:
        outputs = ", ".join(f"{topic} {n:,}" for topic, n in sorted(figure.outputs.items()))
        table.add_row(figure.stage, f"{figure.records:,}", f"{figure.us_per_record:.1f}", f"{figure.avro_floor_us:.1f}",
                      f"{figure.us_per_record / figure.avro_floor_us:.1f}×" if figure.avro_floor_us else "-", outputs)
    console.print(table)
    console.print(f"total {sum(f.us_per_record for f in figures):.1f} µs per request across the stages")
