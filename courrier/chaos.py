"""``courrier bench chaos``: the whole chain under crashes and provider faults, every message accounted for from outside.

Invariants 1 (accounted for), 2 (consent: nothing after STOP) and 3 (once) under faults. Requests mix lanes, channels
and consent states (OTPs over SMS, order updates over RCS with SMS fallback, a marketing campaign to opted-in and
not-opted-in numbers, some of whom text STOP mid-run). Meanwhile a stage chosen in rotation among all of them is
SIGKILLed every few seconds and restarted, the broker is restarted once, the SMSC refuses submits with system errors
and throttling, duplicates, reorders and withholds delivery reports and drops its binds, and the HTTP provider answers
5xx, times out and posts webhooks twice. Submissions are counted in the SMSC's and the simulator's own journals, never
in our ledger; receipts by a plain ``read_committed`` consumer. Each message goes to a number of its own, so one
journal line is one submission of one message.
"""
from __future__ import annotations

import logging
import random
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import phonenumbers
from pydantic import SecretStr

from common.config import Settings
import infra
from courrier.client import CourrierClient
from courrier.chaos_probes import OptOutWatcher, Providers, Stops
from courrier.chaos_report import ChaosReport
from courrier.demo import demo_webhook_secret
from courrier.outcomes import OutcomeWatcher
from courrier.chaos_supervisor import Supervisor
from courrier.processes import start_webhooks, stop_all
from processors.fallback import SUFFIX

GROUP = "promotions"
MARKETING_SENDER = "36180"  # the FR short code marketing SMS leave from; a STOP texted to it opts out of GROUP
MARKER = "Chaos"  # first name in every marketing text: tells a campaign SMS from the STOP confirmation in the journal
STOP_GRACE_S = 1.0  # how long after an opt-out is recorded dispatch's consent table may take to see it
SMSC_FAULTS = {"syserr_rate": 0.02, "throttle_rate": 0.01, "duplicate_report_rate": 0.10, "enroute_after_rate": 0.10,
               "reorder_rate": 0.05, "silent_rate": 0.01}
SIM_FAULTS = {"transient_error_rate": 0.02, "timeout_rate": 0.002, "timeout_hold_ms": 3000, "duplicate_rate": 0.10,
              "undelivered_rate": 0.03, "silent_rate": 0.02, "delivery_delay_ms": 200, "reorder": True}


@dataclass(frozen=True)
class ChaosPlan:
    """What a run does: how many requests at what pace, how often a stage dies, and the faults of the providers."""

    count: int = 100_000
    rate: float = 1000.0
    kill_every_s: float = 4.0  # 0: no stage is killed in rotation
    instances: int = 1  # of every stage, side by side in one consumer group each
    rebalance: bool = False  # halfway through: one more instance of every stage starts and its oldest is killed for good
    broker_restart: bool = True
    smsc_drops: int = 2
    stop_share: float = 0.05
    validity_s: int = 300
    report_grace_s: int = 10
    rcs_fallback_after_s: int = 20
    seed: int | None = None
    timeout_s: float = 1800.0
    smsc_faults: dict[str, float] = field(default_factory=lambda: dict(SMSC_FAULTS))
    sim_faults: dict[str, Any] = field(default_factory=lambda: dict(SIM_FAULTS))


@dataclass(frozen=True)
class Request:
    """One request of the run: its number, template and variables, channel policy, lane and consent state."""

    number: str
    template: str
    variables: dict[str, str]
    channel_policy: str
    lane: str
    opted_in: bool = False
    stops: bool = False


def chaos_numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct valid French mobile numbers (+33 6…), in runs from random bases so runs do not share numbers;
    a number in a block that is not allocated (+33 69…, say) starts a new run elsewhere instead of walking the block."""
    found: dict[str, None] = {}
    base, offset = rng.randrange(10**8), 0
    for _attempt in range(100 * count + 1000):
        candidate = f"+336{(base + offset) % 10**8:08d}"
        offset += 1
        if phonenumbers.number_type(phonenumbers.parse(candidate)) == phonenumbers.PhoneNumberType.MOBILE:
            found[candidate] = None
            if len(found) == count:
                return list(found)
        else:
            base, offset = rng.randrange(10**8), 0
    raise RuntimeError(f"found only {len(found)} of {count} valid French mobile numbers")


def chaos_requests(count: int, rng: random.Random, stop_share: float) -> list[Request]:
    """60 % OTPs over SMS, 20 % order updates over RCS with SMS fallback, 20 % marketing SMS (three in four to opted-in
    numbers, ``stop_share`` of those texting STOP mid-run), in a shuffled order."""
    requests = []
    for i, number in enumerate(chaos_numbers(count, rng)):
        draw = rng.random()
        if draw < 0.6:
            requests.append(Request(number, "otp", {"code": f"{i % 10**6:06d}"}, "SMS", "TRANSACTIONAL"))
        elif draw < 0.8:
            requests.append(Request(number, "order_shipped", {"first_name": "Léa", "order_id": f"C{i}"}, "RCS_WITH_SMS_FALLBACK",
                                    "TRANSACTIONAL"))
        else:
            opted_in = rng.random() < 0.75
            requests.append(Request(number, "promo_spring", {"first_name": MARKER, "discount": "20"}, "SMS", "MARKETING",
                                    opted_in=opted_in, stops=opted_in and rng.random() < stop_share))
    return requests


def run_chaos(settings: Settings, plan: ChaosPlan, log_dir: Path, on_progress: Callable[[int, int], None] | None = None) -> ChaosReport:
    """Run the chain through ``plan``'s requests and faults, then count every message's outcome and submissions."""
    rng = random.Random(plan.seed)
    settings = settings.model_copy(update={
        "dispatch_pacing": False, "quiet_hours_enabled": False, "dispatch_providers": "smpp,http",
        "rbm_url": settings.rbm_url or settings.sim_address, "rcs_sms_fallback_after_s": plan.rcs_fallback_after_s,
        "report_grace_s": plan.report_grace_s})
    settings = settings.model_copy(update={"webhook_secret": SecretStr(demo_webhook_secret(settings))})
    requests = chaos_requests(plan.count, rng, plan.stop_share)
    report = ChaosReport(requests=len(requests))
    providers = Providers(settings)
    since_ms = int(time.time() * 1000)
    with ExitStack() as undo:  # whatever was started or changed is stopped or put back, also when a start fails
        providers.configure(plan.smsc_faults, plan.sim_faults)
        undo.callback(providers.reset_faults)
        supervisor = Supervisor(settings, log_dir, rng, report, plan.instances)
        undo.callback(supervisor.stop)
        webhooks = start_webhooks(settings, log_dir)
        undo.callback(stop_all, [webhooks])
        watcher = OutcomeWatcher(settings)
        undo.callback(watcher.close)
        opt_outs = OptOutWatcher(settings, {r.number for r in requests if r.stops})
        undo.callback(opt_outs.close)
        stops = Stops(providers, MARKETING_SENDER)
        undo.callback(stops.close)
        started = time.monotonic()
        client = CourrierClient(settings, source="chaos")
        for request in requests:
            if request.lane == "MARKETING":
                client.record_consent(request.number, GROUP, request.opted_in, source="chaos-import")
        client.flush()
        time.sleep(1.0)  # the consent tables follow the topic: let them see the import before the first request
        ids = _publish_under_faults(settings, plan, requests, client, supervisor, providers, stops, (watcher, opt_outs),
                                    report, rng, on_progress)
        report.seconds = time.monotonic() - started
        _settle((watcher, opt_outs), supervisor)
    report.stops = stops.texted
    _account(report, ids, watcher, opt_outs, providers, since_ms)
    return report


def _publish_under_faults(settings: Settings, plan: ChaosPlan, requests: list[Request], client: CourrierClient,
                          supervisor: Supervisor, providers: Providers, stopping: Stops,
                          watchers: tuple[OutcomeWatcher, OptOutWatcher], report: ChaosReport,
                          rng: random.Random, on_progress: Callable[[int, int], None] | None) -> dict[str, Request]:
    """Publish at ``plan.rate`` while killing stages, restarting the broker once and dropping the SMSC's binds; then wait
    for every message's terminal receipt (or the plan's timeout)."""
    ids: dict[str, Request] = {}
    start = time.monotonic()
    deadline = start + plan.timeout_s
    next_kill = start + plan.kill_every_s * rng.uniform(0.5, 1.5) if plan.kill_every_s else float("inf")
    rebalance_at = len(requests) // 2 if plan.rebalance else None
    broker_at = len(requests) * 0.4 if plan.broker_restart and settings.kafka_bootstrap_servers is None else None
    drops_at = sorted(rng.sample(range(len(requests)), min(plan.smsc_drops, len(requests))))
    stops = [r for r in requests if r.stops]
    stop_at = sorted(rng.sample(range(len(requests)), len(stops)))
    sent = 0
    while time.monotonic() < deadline:
        due = min(len(requests), int((time.monotonic() - start) * plan.rate) + 1)
        for request in requests[sent:due]:
            message_id = client.send(request.number, request.template, request.variables, channel_policy=request.channel_policy,
                                     lane=request.lane, subscription_group=GROUP if request.lane == "MARKETING" else None,
                                     validity_seconds=plan.validity_s,
                                     sms_fallback_after_s=plan.rcs_fallback_after_s if request.channel_policy != "SMS" else None)
            ids[message_id] = request
        while stop_at and stop_at[0] < due:
            stop_at.pop(0)
            stopping.text(stops.pop().number)
        while drops_at and drops_at[0] < due:
            drops_at.pop(0)
            providers.drop_binds()
            report.smsc_drops += 1
        if broker_at is not None and due >= broker_at:
            broker_at = None
            client.flush()
            _restart_broker(settings)
            report.broker_restarts += 1
        if rebalance_at is not None and due >= rebalance_at:
            rebalance_at = None
            supervisor.rebalance()
        sent = due
        watchers[0].poll(0.05)
        watchers[1].poll()
        done = watchers[0].outcomes.done(ids)
        if on_progress:
            on_progress(sent, done)
        if sent == len(requests) and done >= len(requests):
            break
        if time.monotonic() >= next_kill:
            supervisor.kill_next()
            next_kill = time.monotonic() + plan.kill_every_s * rng.uniform(0.5, 1.5)
        supervisor.revive()
    client.flush()
    return ids


def _restart_broker(settings: Settings) -> None:
    """Stop the local broker (a controlled shutdown) and start it again; every client reconnects by itself (their
    "connection refused" lines meanwhile are the point of the exercise, so this process keeps them quiet)."""
    librdkafka = logging.getLogger("librdkafka")
    level = librdkafka.level
    librdkafka.setLevel(logging.CRITICAL)
    try:
        infra.stop(settings, ["kafka"])
        infra.ensure_running(settings, ["kafka"])
    finally:
        librdkafka.setLevel(level)


def _settle(watchers: tuple[OutcomeWatcher, OptOutWatcher], supervisor: Supervisor, quiet_s: float = 5.0) -> None:
    """Keep reading after the last terminal receipt, so a second one written late is seen too."""
    until = time.monotonic() + quiet_s
    while time.monotonic() < until:
        watchers[0].poll(0.2)
        watchers[1].poll()
        supervisor.revive()


def _account(report: ChaosReport, ids: dict[str, Request], watcher: OutcomeWatcher, opt_outs: OptOutWatcher,
             providers: Providers, since_ms: int) -> None:
    """Terminal receipts per message, repeated receipts, submissions per message at both providers, sends after STOP."""
    outcomes = watcher.outcomes
    seen_receipts: Counter[str] = Counter()
    for message_id, request in ids.items():
        receipts = outcomes.receipts.get(message_id, [])
        seen_receipts.update(_receipt_identity(r) for r in receipts)
        terminal = [r for r in receipts if r["terminal"]]
        report.terminal_counts[min(len(terminal), 2)] += 1
        if not terminal:
            report.without_terminal.append(message_id)
        elif len(terminal) > 1:
            report.several_terminal.append(message_id)
            if len(report.several_examples) < 10:
                report.several_examples.append(f"{message_id} ({request.template}, {request.channel_policy}): " + "; ".join(
                    f"{r['stage']} {r['status']} {r['reason']} at {r['occurred_at'].isoformat()}" for r in terminal))
        if terminal:
            report.outcomes[(terminal[0]["status"], terminal[0]["channel"] or "-", terminal[0]["reason"] or "-")] += 1
    report.repeated_receipts = sum(n - 1 for n in seen_receipts.values() if n > 1)
    for message_id in ids:
        for receipt in outcomes.receipts.get(message_id, []):
            if seen_receipts[_receipt_identity(receipt)] > 1:
                report.repeated_by[(receipt["stage"], receipt["status"])] += 1
                if len(report.repeated_examples) < 10:
                    report.repeated_examples.append(f"{message_id} {receipt['status']} {receipt['reason']} at "
                                                    f"{receipt['occurred_at'].isoformat()}: {receipt['detail']}")
    for dead in outcomes.dead_letters:
        report.dead_letters[(dead.get("courrier-stage") or "?", dead.get("courrier-error-class") or "?")] += 1
    journal = providers.smsc_journal(since_ms)
    sim = providers.sim_submissions()
    report.submitted_smsc, report.submitted_sim = len(journal), sum(sim.values())
    by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in journal:
        by_number["+" + entry["to"].lstrip("+")].append(entry)
    stopped_at = opt_outs.readable_at
    for message_id, request in ids.items():
        sms = [e for e in by_number.get(request.number, []) if request.lane != "MARKETING" or MARKER in e["text"]]
        submits = len(sms) + sim.get(message_id, 0) + sim.get(message_id + SUFFIX, 0)
        if submits > (2 if request.channel_policy != "SMS" else 1):  # RCS and then its SMS fallback, at most once each
            report.duplicate_submits[message_id] = submits
        if request.number in stopped_at:
            after = [e for e in sms if e["at"] / 1000 > stopped_at[request.number] + STOP_GRACE_S]
            if after:
                report.sends_after_stop[message_id] = len(after)


def _receipt_identity(receipt: dict[str, Any]) -> str:
    """The receipt's own id where it has one, else what makes it that receipt."""
    return receipt.get("receipt_id") or "|".join(str(receipt.get(k)) for k in ("status", "provider_message_id", "occurred_at"))
