"""``courrier bench otp --from send-requested``: OTP latency through the whole chain while a campaign drains (issue 19).

Consent, channel, render, dispatch and the scheduler run as their own processes (``courrier.processes``), the
campaign's recipients opted in to ``GROUP`` beforehand. The campaign is published to ``send-requested`` at once as
marketing requests, then OTPs one at a time as transactional requests, each through ``CourrierClient`` as an
application would send it (to their lane's topic, ``send-requested-transactional``). Every chain stage runs both lanes,
each on its own consumer: in one process per stage (``courrier run`` by default), or with ``split_lanes`` in one process
per stage and lane (``COURRIER_LANES``, as the Kubernetes manifests deploy them), so the campaign's work no longer shares
a process, nor its interpreter lock, with the OTPs'. An OTP's latency is from just before its request is produced to
when its ``dispatched`` record (written after the SMSC accepted it) reaches the bench.

The channel stage picks senders from a pool this run declares (``COURRIER_CONFIG``'s ``[senders]``, as a deployment
would): ``campaign_senders`` French short codes, the same ones ``--from rendered`` paces the campaign over. OTPs leave
from them too (sticky per recipient), so an OTP shares its short code's budget with the campaign and has priority on
it (``processors.dispatch.pacing.Pacer``). Quiet hours are off: the bench runs at any hour and no person receives it.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from common.config import Settings
from courrier.bench_otp_measure import SHORT_CODE_RATE, Dispatched, OtpFigure, campaign_sender

CHAIN = ("consent", "channel", "render", "dispatch", "scheduler")
# An OTP's records, hop by hop: its lane's topics, its SUBMITTING ledger record (written just before the submit, so
# dispatch's hop splits in two: to the submit, then the ledger's acknowledgement and the SMSC's answer), then dispatched
# (written after the SMSC accepted it).
HOPS = ("send-requested-transactional", "consent-checked-transactional", "channel-resolved-transactional",
        "rendered-transactional", "submissions", "dispatched")  # the scheduler brings back what pacing deferred
LANED = ("consent", "channel", "render", "dispatch")
# Split, the marketing lanes run at a lower CPU priority, as a deployment would give the transactional ones guaranteed
# CPU (Kubernetes requests): on two shared cores a draining campaign otherwise takes the OTPs' share.
MARKETING_NICENESS = 10
GROUP = "promotions"  # a group the bundled keyword book answers STOP and HELP for (else consent refuses its marketing)
WARM_UP_S = 180.0  # five stages starting on a shared machine, each restoring its tables first


def chain_run(settings: Settings, campaign: int, senders: int, otps: int, interval_s: float, pacing: bool, guarantee: str,
              console, split_lanes: bool = False) -> OtpFigure:
    """One run of the whole chain under a topic prefix of its own, whose topics and consumer groups are removed after it."""
    from courrier.bench import removed
    from courrier.client import CourrierClient
    from courrier.processes import stop_all
    from topology.apply import apply as apply_topology

    run = settings.model_copy(update={"topic_prefix": f"bench-otp-{uuid.uuid4().hex[:8]}-", "dispatch_pacing": pacing,
                                      "quiet_hours_enabled": False})
    log_dir = settings.state_dir / "logs" / "bench-otp" / run.topic_prefix.rstrip("-")
    config = _config(log_dir, senders)
    numbers = [f"+3361{n:07d}" for n in range(campaign + 1)]  # the last one is the warm-up's marketing request
    stages = []
    with removed(run, run.topic_prefix):
        apply_topology(run)
        client = CourrierClient(run, source="bench")
        for number in numbers:  # consent refuses marketing to a recipient who did not opt in
            client.record_consent(number, GROUP, True, source="bench")
        client.flush()
        arrivals = Dispatched(run)
        try:
            stages = _start_chain(run, log_dir, guarantee, config, split_lanes)

            def marketing(message_id: str, number: str) -> None:
                client.send(number, "promo_spring", {"first_name": "Alex", "discount": "20"}, lane="MARKETING",
                            subscription_group=GROUP, campaign_id="bench", message_id=message_id)

            def send_otp(i: int) -> str:
                message_id = client.send(f"+3362{i:07d}", "otp", {"code": "424242"}, lane="TRANSACTIONAL", message_id=f"otp-{i}")
                client.flush(5)
                return message_id

            # Both lanes through every stage once before the clock runs: a broken path fails here, naming the logs.
            client.send("+33612345678", "otp", {"code": "424242"}, lane="TRANSACTIONAL", message_id="warm-up")
            marketing("warm-up-campaign", numbers[-1])
            client.flush(30)
            arrivals.warm_up(["warm-up", "warm-up-campaign"], WARM_UP_S, log_dir)
            campaign_ids = [f"c-{i}" for i in range(campaign)]
            for message_id, number in zip(campaign_ids, numbers):
                marketing(message_id, number)
            client.flush(120)
            with console.status(f"send-requested: OTPs every {interval_s * 1000:.0f} ms while {campaign:,} campaign requests drain"):
                sent = arrivals.otps_while_draining(send_otp, campaign_ids, otps, interval_s, 600 + campaign / (SHORT_CODE_RATE * senders))
            hops = hop_latencies(run, set(sent))
        finally:
            arrivals.close()
            stop_all(stages)
    figure = arrivals.figure("the whole chain, a process per stage and lane" if split_lanes else "the whole chain, a process per stage",
                             "send-requested", campaign_ids, sent)
    return replace(figure, hops=hops)


def hop_latencies(run: Settings, message_ids: set[str]) -> dict[str, list[float]]:
    """Per hop, the seconds between an OTP's record on the hop's input and its record on the hop's output, by the
    records' timestamps (each set when its producer took it): the hop's fetch, queueing and work, plus the wait for the
    input's transaction to commit. Read from the transactional lane's topics (and ``dispatched``) once the run is over."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    from common.kafka_clients import consumer_config
    from processors.runtime.serde import AvroSerde

    serde = AvroSerde(run.registry_url, run.topic)
    consumer = Consumer(consumer_config(run, f"{run.topic_prefix}hops", **{"enable.partition.eof": True}))
    seen: dict[str, dict[str, int]] = {}  # logical topic → message id → timestamp (ms)
    try:
        assigned = [TopicPartition(run.topic(t), p, OFFSET_BEGINNING) for t in HOPS
                    for p in consumer.list_topics(run.topic(t), timeout=10).topics[run.topic(t)].partitions]
        consumer.assign(assigned)
        logical = {run.topic(t): t for t in HOPS}
        left = {(tp.topic, tp.partition) for tp in assigned}
        while left:
            for message in consumer.consume(1000, 5.0) or [None]:
                if message is None:
                    raise TimeoutError(f"hop topics not read to their end: {sorted(left)}")
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        left.discard((message.topic(), message.partition()))
                    continue
                topic = logical[message.topic()]
                value = serde.decode(topic, message.value())
                message_id = value["message_id"] if topic == "submissions" else value["context"]["message_id"]
                if message_id in message_ids:
                    seen.setdefault(topic, {}).setdefault(message_id, message.timestamp()[1])  # a message's first record
    finally:
        consumer.close()
    return {f"{source} → {target}": [(seen[target][m] - seen[source][m]) / 1000 for m in message_ids
                                     if m in seen.get(source, {}) and m in seen.get(target, {})]
            for source, target in zip(HOPS, HOPS[1:])}


def _start_chain(run: Settings, log_dir: Path, guarantee: str, config: Path, split_lanes: bool) -> list:
    """The chain's processes: one per stage, or (``split_lanes``) one per lane of each chain stage."""
    from courrier.processes import start_stage

    env = {"COURRIER_CONFIG": str(config)}
    if not split_lanes:
        return [start_stage(name, run, log_dir, [guarantee], extra_env=env) for name in CHAIN]
    return [start_stage(name, run, log_dir, [guarantee], extra_env={**env, "COURRIER_LANES": lane}, instance=lane,
                        label=f"{name}-{lane}", niceness=MARKETING_NICENESS if lane == "marketing" else 0)
            for name in LANED for lane in ("transactional", "marketing")] + \
        [start_stage(name, run, log_dir, [guarantee], extra_env=env) for name in CHAIN if name not in LANED]


def _config(log_dir: Path, senders: int) -> Path:
    """The run's configuration file: its French short codes as the channel stage's only pool, at the rate they claim."""
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = ", ".join(f'{{ sender_id = "{campaign_sender(i)["sender_id"]}", segments_per_second = {SHORT_CODE_RATE} }}'
                     for i in range(senders))
    config = log_dir / "courrier.toml"
    config.write_text(f"[senders.FR]\nSHORT_CODE = [{pool}]\n", encoding="utf-8")
    return config
