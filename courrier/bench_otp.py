"""``courrier bench otp``: how long an OTP takes through dispatch while a campaign drains, with lanes and without.

``courrier run dispatch`` (and the scheduler, which brings back what pacing deferred) run as their own processes
against the SMSC. A campaign of marketing messages (100,000 by default, each recipient opted in) is published to
``rendered`` at once, spread over ``campaign_senders`` short codes; dispatch paces each sender at its carrier limit
(``processors/dispatch/data/pacing.json``: 100 segments/s per short code), deferring what cannot go yet. While it
drains, OTPs are published one at a time to ``rendered-transactional`` (their lane) — or, for comparison, to
``rendered`` behind the campaign. An OTP's latency is from just before it is produced to when its ``dispatched``
record (written after the SMSC accepted it) reaches the bench's consumer: the whole dispatch hop, broker included.

``--from send-requested`` (the default, and issue 19's figure) measures the whole chain beside that hop:
``courrier.bench_otp_chain`` runs every stage as its own process and sends the campaign and the OTPs as requests to
``send-requested``, so an OTP also goes through consent, channel and render (in their transactional lanes) while the campaign drains.
``--from rendered`` runs the dispatch hop twice instead: OTPs in their lane, then behind the campaign.
Each run has a topic prefix of its own, removed with its consumer groups afterwards, whatever happened.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import typer

from common import logs
from common.config import Settings, get_settings
from courrier.bench_otp_measure import SHORT_CODE_RATE, Dispatched, OtpFigure, campaign_sender, percentile

# Kafka clients, the topology tool, the infra and rich are imported by the functions that use them, so that
# registering this command does not slow down every other `courrier` command.

OTP_SENDER = {"sender_id": "36111", "type": "SHORT_CODE", "country": "FR", "segments_per_second": 100.0}
GROUP = "bench"
ORIGINS = ("send-requested", "rendered")  # where --from starts the clock: the whole chain beside dispatch, or dispatch alone
TARGET_P99_S = 0.050  # issue 19: OTP p99 from send-requested to submit while the campaign drains


def command(
    origin: str = typer.Option("send-requested", "--from", help="Where OTPs enter: send-requested (the whole chain, each stage its "
                               "own process, beside the dispatch hop alone) or rendered (the dispatch hop: own lane, then behind "
                               "the campaign)."),
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
    """OTP latency (p50/p95/p99) while a paced campaign drains: from send-requested through every stage beside the dispatch hop alone."""
    if origin not in ORIGINS:
        raise typer.BadParameter(f"{origin!r} is not {' or '.join(ORIGINS)}", param_hint="--from")
    logs.configure("WARNING")
    bench_otp(get_settings(), origin=origin, campaign=campaign, otps=otps, interval_s=interval_ms / 1000, pacing=pacing, exactly_once=exactly_once,
              campaign_senders=campaign_senders)


def bench_otp(settings: Settings, campaign: int, otps: int, interval_s: float, pacing: bool = True,
              exactly_once: bool = True, campaign_senders: int = 30, origin: str = "send-requested") -> list[OtpFigure]:
    """The dispatch hop in the OTPs' lane, then (``origin``) the whole chain from ``send-requested`` (a process per
    stage, then per stage and lane) or the hop behind the campaign; then a table of drain time, submit/s and OTP
    p50/p95/p99/max."""
    from rich.console import Console
    from rich.table import Table

    import infra
    from courrier.bench_otp_chain import chain_run

    console = Console()
    started_parts = infra.ensure_running(settings)
    try:
        guarantee = "--exactly-once" if exactly_once else "--at-least-once"
        figures = [_run(settings, "rendered-transactional", "their own lane", campaign, campaign_senders, otps, interval_s, pacing,
                        guarantee, console)]
        if origin == "rendered":
            figures.append(_run(settings, "rendered", "the campaign's topic", campaign, campaign_senders, otps, interval_s, pacing,
                                guarantee, console))
        else:  # lanes in one process per stage (courrier run's default), then in one process per stage and lane
            figures += [chain_run(settings, campaign, campaign_senders, otps, interval_s, pacing, guarantee, console, split)
                        for split in (False, True)]
    finally:
        if started_parts:
            infra.stop(settings, started_parts)
    ceiling = f", {campaign_senders} short codes, at most {campaign_senders * SHORT_CODE_RATE:,.0f} segments/s" if pacing else ""
    table = Table(title=f"OTPs while a {campaign:,}-message campaign drains (pacing {'on' if pacing else 'off'}"
                        f"{ceiling}, {'exactly-once' if exactly_once else 'at-least-once'})")
    for column in ("OTPs from", "through", "OTPs", "campaign sent", "campaign drain s", "campaign submit/s", "OTP p50 ms",
                   "OTP p95 ms", "OTP p99 ms", "OTP max ms"):
        table.add_column(column, justify="left" if column in ("OTPs from", "through") else "right", no_wrap=column == "OTPs from")
    for f in figures:
        table.add_row(f.origin, f.mode, str(len(f.latencies)), f"{f.campaign:,}", f"{f.drain_s:.2f}", f"{f.submit_rate:,.0f}",
                      *(f"{f.percentile(p) * 1000:.0f}" for p in (50, 95, 99)), f"{max(f.latencies, default=float('nan')) * 1000:.0f}")
    console.print(table)
    for f in figures:
        if f.hops:
            console.print(_hop_table(f))
        if f.origin == "send-requested":
            console.print(f"OTP p99 from send-requested to dispatched ({f.mode}): {f.percentile(99) * 1000:.0f} ms "
                          f"(issue 19 target < {TARGET_P99_S * 1000:.0f} ms to submit)")
    return figures


def _hop_table(figure: OtpFigure):
    """Where an OTP's time goes in ``figure``'s chain: each hop's p50/p95/p99 from its records' timestamps."""
    from rich.table import Table

    table = Table(title=f"OTP hop by hop ({figure.mode}): from the input record's timestamp to the output's")
    for column in ("hop", "OTPs", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "hop" else "right")
    for hop, seconds in figure.hops.items():
        table.add_row(hop, str(len(seconds)), *(f"{percentile(seconds, p) * 1000:.0f}" for p in (50, 95, 99)))
    return table


def _run(settings: Settings, otp_topic: str, mode: str, campaign: int, senders: int, otps: int, interval_s: float, pacing: bool,
         guarantee: str, console) -> OtpFigure:
    """The dispatch hop alone: dispatch and the scheduler, the campaign and the OTPs published as rendered messages."""
    from confluent_kafka import Producer

    from courrier.bench import removed
    from courrier.client import CourrierClient
    from courrier.processes import start_stage, stop_all
    from common.kafka_clients import producer_config
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
        log_dir = settings.state_dir / "logs" / "bench-otp"
        arrivals = Dispatched(run)
        try:
            stages = [start_stage(name, run, log_dir, [guarantee], extra_env=env) for name in ("dispatch", "scheduler")]
            serde = AvroSerde(run.registry_url, run.topic)
            producer = Producer(producer_config(run, **{"linger.ms": 0}))

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
            arrivals.warm_up(["warm-up"], 120, log_dir)
            campaign_ids = [f"c-{i}" for i in range(campaign)]
            for i, (message_id, number) in enumerate(zip(campaign_ids, numbers)):
                produce("rendered", _rendered(message_id, number, campaign_sender(i % senders), "MARKETING"))
            producer.flush(120)

            def send_otp(i: int) -> str:
                otp = _rendered(f"otp-{i}", f"+3362{i:07d}", OTP_SENDER, "TRANSACTIONAL")
                produce(otp_topic, otp)
                producer.flush(5)
                return otp["context"]["message_id"]

            with console.status(f"{otp_topic}: OTPs every {interval_s * 1000:.0f} ms while {campaign:,} campaign messages drain"):
                sent = arrivals.otps_while_draining(send_otp, campaign_ids, otps, interval_s, 600 + campaign / (SHORT_CODE_RATE * senders))
        finally:
            arrivals.close()
            stop_all(stages)
    return arrivals.figure(mode, otp_topic, campaign_ids, sent)


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

