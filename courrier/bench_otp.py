"""``courrier bench otp``: how long an OTP takes through dispatch while a campaign drains, with lanes and without.

``courrier run dispatch`` (and the scheduler, which brings back what pacing deferred) run as their own processes
against the SMSC. A campaign of marketing messages (100,000 by default, each recipient opted in) is published to
``rendered`` at once, spread over ``campaign_senders`` short codes; dispatch paces each sender at its carrier limit
(``processors/dispatch/data/pacing.json``: 100 segments/s per short code), deferring what cannot go yet. While it
drains, OTPs are published one at a time to ``rendered-transactional`` (their lane) — or, for comparison, to
``rendered`` behind the campaign. An OTP's latency is from just before it is produced to when its ``dispatched``
record (written after the SMSC accepted it) reaches the bench's consumer: the whole dispatch hop, broker included.
Each run has a topic prefix of its own, removed with its consumer groups afterwards, whatever happened.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import typer

from courrier import logs
from courrier.config import Settings, get_settings

# Kafka clients, the topology tool, the infra and rich are imported by the functions that use them, so that
# registering this command does not slow down every other `courrier` command.

CAMPAIGN_SENDERS = 36180  # the first campaign short code; the others follow it
SHORT_CODE_RATE = 100.0  # segments/s each campaign sender's record claims (the pacing file may grant less)
OTP_SENDER = {"sender_id": "36111", "type": "SHORT_CODE", "country": "FR", "segments_per_second": 100.0}
GROUP = "bench"


@dataclass(frozen=True)
class OtpFigure:
    """One measured run: where OTPs went (their lane's topic or the campaign's), the campaign's drain, OTP latencies in seconds."""

    mode: str
    campaign: int
    drain_s: float
    latencies: list[float]

    @property
    def submit_rate(self) -> float:
        return self.campaign / self.drain_s if self.drain_s else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def command(
    campaign: int = typer.Option(100_000, "--campaign", min=100, max=1_000_000, help="Marketing messages the campaign publishes at once."),
    campaign_senders: int = typer.Option(30, "--campaign-senders", min=1, max=1000,
                                         help="Short codes the campaign is spread over (each paced at its own limit)."),
    otps: int = typer.Option(300, "--otps", min=10, max=100_000, help="Most OTPs sent while the campaign drains."),
    interval_ms: float = typer.Option(20.0, "--interval-ms", min=1.0, max=10_000.0, help="Time between two OTPs."),
    pacing: bool = typer.Option(True, "--pacing/--no-pacing", help="Pace senders at their carrier limits (on, as in production); "
                                "off lets the campaign drain as fast as the SMSC takes it."),
    exactly_once: bool = typer.Option(True, "--exactly-once/--at-least-once",
                                      help="How dispatch commits (one transaction per batch by default): measure both to see "
                                           "what exactly-once costs an OTP."),
) -> None:
    """OTP latency (p50/p99) through dispatch while a paced campaign drains: OTPs in their own lane, then behind the campaign."""
    logs.configure("WARNING")
    bench_otp(get_settings(), campaign=campaign, otps=otps, interval_s=interval_ms / 1000, pacing=pacing, exactly_once=exactly_once,
              campaign_senders=campaign_senders)


def bench_otp(settings: Settings, campaign: int, otps: int, interval_s: float, pacing: bool = True,
              exactly_once: bool = True, campaign_senders: int = 30) -> list[OtpFigure]:
    """Both runs, then a table of drain time, submit/s and OTP p50/p99/max."""
    from rich.console import Console
    from rich.table import Table

    import infra

    console = Console()
    started_parts = infra.ensure_running(settings)
    try:
        guarantee = "--exactly-once" if exactly_once else "--at-least-once"
        figures = [_run(settings, otp_topic, mode, campaign, campaign_senders, otps, interval_s, pacing, guarantee, console)
                   for otp_topic, mode in (("rendered-transactional", "their own lane"), ("rendered", "the campaign's topic"))]
    finally:
        if started_parts:
            infra.stop(settings, started_parts)
    ceiling = f", {campaign_senders} short codes, at most {campaign_senders * SHORT_CODE_RATE:,.0f} segments/s" if pacing else ""
    table = Table(title=f"OTPs through dispatch while a {campaign:,}-message campaign drains (pacing {'on' if pacing else 'off'}"
                        f"{ceiling}, {'exactly-once' if exactly_once else 'at-least-once'})")
    for column in ("OTPs in", "OTPs", "campaign sent", "campaign drain s", "campaign submit/s", "OTP p50 ms", "OTP p99 ms", "OTP max ms"):
        table.add_column(column, justify="left" if column == "OTPs in" else "right", no_wrap=column == "OTPs in")
    for f in figures:
        table.add_row(f.mode, str(len(f.latencies)), f"{f.campaign:,}", f"{f.drain_s:.2f}", f"{f.submit_rate:,.0f}",
                      f"{f.percentile(50) * 1000:.0f}", f"{f.percentile(99) * 1000:.0f}",
                      f"{max(f.latencies, default=float('nan')) * 1000:.0f}")
    console.print(table)
    return figures


def _run(settings: Settings, otp_topic: str, mode: str, campaign: int, senders: int, otps: int, interval_s: float, pacing: bool,
         guarantee: str, console) -> OtpFigure:
    from confluent_kafka import Consumer, Producer

    from courrier.bench import removed
    from courrier.client import CourrierClient
    from courrier.processes import start_stage, stop_all
    from processors.runtime.clients import assign_at_end, consumer_config, producer_config
    from processors.runtime.serde import AvroSerde
    from topology.apply import apply as apply_topology

    run = settings.model_copy(update={"topic_prefix": f"bench-otp-{uuid.uuid4().hex[:8]}-"})
    numbers = [f"+3361{n:07d}" for n in range(campaign)]
    stages = []
    with removed(run, run.topic_prefix):
        apply_topology(run)
        client = CourrierClient(run, source="bench")
        for number in numbers:  # the last check before submit wants each recipient's opt-in
            client.record_consent(number, GROUP, True, source="bench")
        client.flush()
        env = {"COURRIER_DISPATCH_PACING": str(pacing).lower()}
        consumer = Consumer(consumer_config(run, f"{run.topic_prefix}end"))
        try:
            stages = [start_stage(name, run, settings.state_dir / "logs" / "bench-otp", [guarantee], extra_env=env)
                      for name in ("dispatch", "scheduler")]
            serde = AvroSerde(run.registry_url, run.topic)
            producer = Producer(producer_config(run, **{"linger.ms": 0}))
            assign_at_end(consumer, [run.topic("dispatched")])
            arrived: dict[str, float] = {}

            def poll(timeout_s: float) -> None:
                for message in consumer.consume(1000, timeout_s):
                    if message.error() is None:
                        arrived[serde.decode("dispatched", message.value())["context"]["message_id"]] = time.time()

            def produce(topic: str, event: dict) -> None:
                while True:
                    try:
                        producer.produce(run.topic(topic), key=event["sender"]["sender_id"], value=serde.encode(topic, event))
                        break
                    except BufferError:  # a 100,000-message campaign outruns the producer's queue
                        producer.poll(0.05)
                producer.poll(0)

            produce(otp_topic, _rendered("warm-up", "+33612345678", OTP_SENDER, "TRANSACTIONAL"))
            producer.flush(30)
            deadline = time.monotonic() + 120
            while "warm-up" not in arrived and time.monotonic() < deadline:
                poll(0.1)
            if "warm-up" not in arrived:
                raise TimeoutError(f"dispatch did not send a first OTP within 120 s; see {settings.state_dir / 'logs' / 'bench-otp'}")
            campaign_ids = [f"c-{i}" for i in range(campaign)]
            for i, (message_id, number) in enumerate(zip(campaign_ids, numbers)):
                produce("rendered", _rendered(message_id, number, campaign_sender(i % senders), "MARKETING"))
            producer.flush(120)
            sent: dict[str, float] = {}
            with console.status(f"{otp_topic}: OTPs every {interval_s * 1000:.0f} ms while {campaign:,} campaign messages drain"):
                while len(sent) < otps and sum(1 for m in campaign_ids if m in arrived) < campaign:
                    otp = _rendered(f"otp-{len(sent)}", f"+3362{len(sent):07d}", OTP_SENDER, "TRANSACTIONAL")
                    sent[otp["context"]["message_id"]] = time.time()
                    produce(otp_topic, otp)
                    producer.flush(5)
                    poll(interval_s)
                deadline = time.monotonic() + 600 + campaign / (SHORT_CODE_RATE * senders)
                while not (set(sent) | set(campaign_ids)) <= set(arrived) and time.monotonic() < deadline:
                    poll(0.1)
        finally:
            consumer.close()
            stop_all(stages)
    campaign_times = [arrived[m] for m in campaign_ids if m in arrived]
    drain = max(campaign_times) - min(campaign_times) if campaign_times else 0.0
    return OtpFigure(mode, len(campaign_times), drain, [arrived[m] - t for m, t in sent.items() if m in arrived])


def campaign_sender(index: int) -> dict:
    """The ``index``-th campaign short code."""
    return {"sender_id": str(CAMPAIGN_SENDERS + index), "type": "SHORT_CODE", "country": "FR", "segments_per_second": SHORT_CODE_RATE}


def _rendered(message_id: str, e164: str, sender: dict, lane: str) -> dict:
    marketing = lane == "MARKETING"
    now = datetime.now(timezone.utc)
    text = "Spring sale: 20% off everything this weekend" if marketing else "Your code is 424242"
    return {
        "context": {"message_id": message_id, "idempotency_key": None, "campaign_id": "bench" if marketing else None, "variant": None,
                    "lane": lane, "subscription_group": GROUP if marketing else None, "requested_at": now, "source": "bench"},
        "recipient": {"e164": e164, "region": "FR", "number_type": "mobile", "time_zone": "Europe/Paris"},
        "channel": "SMS", "fallback_reason": None, "sender": sender, "template_id": "bench",
        "sms": {"text": text, "encoding": "GSM7", "segments": 1, "units": len(text)},
        "rcs_json": None, "media_urls": [], "expires_at": now + timedelta(hours=1),
    }

