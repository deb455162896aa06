"""``courrier demo``: the whole chain on the local real parts, end to end, with a summary of every outcome."""
from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from common.config import Settings
import infra
from courrier.client import CourrierClient
from courrier.outcomes import OutcomeWatcher, Outcomes
from courrier.processes import PIPELINE, start_pipeline, start_webhooks, stop_all, wait_until_consuming
from processors.rules.templates import DEFAULT_DIR as BUNDLED_TEMPLATES
from processors.templates_store.catalog import seed as seed_templates
from topology.apply import apply as apply_topology
from topology.apply import remove as remove_topics

GROUP = "promotions"
DEMO_FALLBACK_AFTER_S = 5
# Reported failures only: a silent RCS-only message would wait for the end of its validity (an hour) to expire. RBM
# reports an expiry as TTL_EXPIRATION_REVOKED; messages with a fallback then go out as SMS.
DEMO_RCS_FAULTS = {"expired_rate": 0.06}
# The demo's providers, as a deployment writes them: RCS through the RBM adapter, SMS through the SMSC (and through
# Twilio for North America, the SMSC second), MMS through Twilio; every one against the local parts, speaking its
# real protocol. Credentials come from the environment the simulator's part generated (infra.parts.sim.adapter_env).
DEMO_PROVIDERS = """\
[providers.smsc]
kind = "smpp"

[providers.rbm]
kind = "rbm"

[providers.twilio]
kind = "twilio"

[[routes]]
channels = ["RCS"]
providers = ["rbm"]

[[routes]]
countries = ["US", "CA"]
channels = ["SMS", "MMS"]
providers = ["twilio", "smsc"]

[[routes]]
channels = ["SMS"]
providers = ["smsc", "twilio"]

[[routes]]
channels = ["MMS"]
providers = ["twilio"]
"""

DEMO_CAMPAIGN = "spring-sale"  # the demo's A/B campaign; its report is written at the end of the run
# Mobile prefixes that phonenumbers accepts as valid, per region; the demo appends random digits.
MOBILE_PREFIXES = {"FR": ("+3361", 7), "SE": ("+4670", 7), "GB": ("+447400", 6), "DE": ("+49151", 8), "US": ("+1201555", 4)}


@dataclass(frozen=True)
class DemoRequest:
    """One send-requested event the demo publishes."""

    recipient: str
    template_id: str
    variables: dict[str, str]
    channel_policy: str
    lane: str
    subscription_group: str | None = None
    campaign_id: str | None = None
    variant: str | None = None


def demo_requests(count: int, seed: int = 7) -> tuple[list[DemoRequest], dict[str, bool]]:
    """A realistic mix (OTPs, order updates, a marketing campaign, bad numbers), and the consent states it relies on."""
    rng = random.Random(seed)
    consents: dict[str, bool] = {}
    requests: list[DemoRequest] = []
    for i in range(count):
        region = rng.choice(list(MOBILE_PREFIXES))
        prefix, digits = MOBILE_PREFIXES[region]
        number = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        roll = rng.random()
        if roll < 0.04:
            requests.append(DemoRequest(f"+33{rng.randint(10, 99)}", "otp", {"code": "000000"}, "SMS", "TRANSACTIONAL"))
        elif roll < 0.07:
            requests.append(DemoRequest("+33142685300", "otp", {"code": "123456"}, "SMS", "TRANSACTIONAL"))
        elif roll < 0.40:
            requests.append(DemoRequest(number, "otp", {"code": f"{rng.randint(0, 999999):06d}"}, "SMS", "TRANSACTIONAL"))
        elif roll < 0.62:
            requests.append(DemoRequest(number, "order_shipped", {"first_name": rng.choice(["Léa", "Oskar", "Ava", "Jonas"]),
                                                                  "order_id": f"A{i:05d}"}, "RCS_WITH_SMS_FALLBACK", "TRANSACTIONAL"))
        elif roll < 0.64:
            requests.append(DemoRequest(number, "order_shipped", {"first_name": "Sam", "order_id": f"B{i:05d}"}, "RCS_ONLY", "TRANSACTIONAL"))
        else:
            consent_roll = rng.random()
            if consent_roll < 0.7:
                consents[number] = True
            elif consent_roll < 0.85:
                consents[number] = False
            variant = "A" if rng.random() < 0.5 else "B"  # the A/B test the product promises: SMS against RCS (SMS fallback)
            requests.append(DemoRequest(number, "promo_spring", {"first_name": "Alex", "discount": "20"},
                                        "SMS" if variant == "A" else "RCS_WITH_SMS_FALLBACK", "MARKETING", GROUP, DEMO_CAMPAIGN, variant))
    return requests, consents


def demo_webhook_secret(settings: Settings) -> str:
    """The secret the demo's simulator signs with and its receiver checks: the configured one; else, for the local
    simulator, the random one generated once into the state directory (the same function ``infra up`` starts the
    simulator with, so a simulator already running, or left running by ``--keep-parts``, agrees with this run's
    receiver; a fresh secret per run would not); an external simulator needs it set (``SecretMissing``)."""
    from infra.parts.sim import webhook_secret

    if settings.webhook_secret is None and not settings.sim_is_local:
        settings.secret("webhook_secret")  # raises, naming COURRIER_WEBHOOK_SECRET
    return webhook_secret(settings)


def provider_env(settings: Settings, folder: Path) -> dict[str, str]:
    """The environment of the demo's stages and receiver: its configuration file (``DEMO_PROVIDERS``, written into
    ``folder``) and the credentials and URLs that point the real adapters at the local simulator."""
    from infra.parts.sim import adapter_env

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "courrier.toml"
    config.write_text(DEMO_PROVIDERS, encoding="utf-8")
    return {**adapter_env(settings), "COURRIER_CONFIG": str(config)}


def run_demo(settings: Settings, count: int = 1000, timeout_s: float = 180.0, keep_parts: bool = False) -> bool:
    """Run the demo; True when every message got exactly one terminal receipt.

    Quiet hours and pacing are off: the demo runs at any hour and waits for terminal receipts, while a
    marketing message sent at night is (rightly) deferred until morning, and a 1-MPS long code would
    take minutes over a few hundred messages. ``courrier bench pacing`` shows pacing at work."""
    console = Console()
    # RCS goes to the provider simulator: capability checks (RBM), RCS and fallback sends over HTTP, reports back as
    # signed webhooks to the receiver started below; SMS keeps going over SMPP first. The simulator reports a few RCS
    # messages undelivered or expired: those with a fallback go out as SMS.
    # Topics of its own, removed at the end: a run never reads what an earlier one left (parked deadlines, say, whose
    # schema ids a restarted in-memory registry no longer knows). An explicit COURRIER_TOPIC_PREFIX is kept as given.
    own_topics = not settings.topic_prefix
    settings = settings.model_copy(update={"quiet_hours_enabled": False, "dispatch_pacing": False,
                                           "rcs_sms_fallback_after_s": DEMO_FALLBACK_AFTER_S,
                                           "topic_prefix": settings.topic_prefix or f"demo-{uuid.uuid4().hex[:8]}-"})
    settings = settings.model_copy(update={"webhook_secret": SecretStr(demo_webhook_secret(settings))})
    logging.getLogger("librdkafka").setLevel(logging.ERROR)  # "coordinator load in progress" on a fresh broker is retried, not a problem
    applied = False
    started_parts: list[str] = []
    stages = []
    try:
        with console.status("Starting the real parts (first run fetches them)…") as status:
            started_parts = infra.ensure_running(settings, progress=lambda line: status.update(line))
        console.print(f"[green]✓[/] parts ready (started: {', '.join(started_parts) or 'none, reused running ones'})")
        with console.status("Applying the topology…"):
            applied = True
            apply_topology(settings)
        seeded = seed_templates(settings, settings.templates_dir or BUNDLED_TEMPLATES)  # the store's ids it lacks
        console.print(f"[green]✓[/] template store: {len(seeded)} bundled templates seeded")
        httpx.post(f"{settings.sim_address}/_sim/config", json={"by_provider": {"rbm": DEMO_RCS_FAULTS}}, timeout=10).raise_for_status()
        log_dir = settings.state_dir / "logs" / "demo"
        providers = provider_env(settings, log_dir)
        stages = [*start_pipeline(settings, log_dir, extra_env=providers), start_webhooks(settings, log_dir, extra_env=providers)]
        began = time.monotonic()
        late = wait_until_consuming(settings, PIPELINE)
        ready = f"consuming after {time.monotonic() - began:.1f} s" if not late else f"{', '.join(late)} not consuming yet"
        console.print(f"[green]✓[/] stages running: {', '.join(s.name for s in stages)}, {ready} (logs in {log_dir})")
        watcher = OutcomeWatcher(settings)
        requests, consents = demo_requests(count)
        client = CourrierClient(settings, source="demo")
        for number, opted_in in consents.items():
            client.record_consent(number, GROUP, opted_in, source="demo-import")
        client.flush()
        time.sleep(1.0)  # the consent stage's table follows the topic; give it a moment to see the import
        started = time.monotonic()
        message_ids: list[str] = []
        with _progress(console) as progress:
            publish = progress.add_task("publish send-requested", total=count)
            for request in requests:
                message_ids.append(client.send(
                    request.recipient, request.template_id, request.variables, channel_policy=request.channel_policy,
                    lane=request.lane, subscription_group=request.subscription_group, campaign_id=request.campaign_id,
                    variant=request.variant, validity_seconds=3600))
                progress.advance(publish)
            client.flush()
            receipts = progress.add_task("terminal receipts", total=count)
            outcomes = watcher.wait_terminal(message_ids, timeout_s, lambda done: progress.update(receipts, completed=done))
        elapsed = time.monotonic() - started
        watcher.close()
        ok = _summarise(console, message_ids, outcomes, elapsed)
        _write_report(console, settings, DEMO_CAMPAIGN)
        return ok
    finally:
        stop_all(stages)
        if own_topics and applied:
            remove_topics(settings)
        if started_parts and not keep_parts:
            infra.stop(settings, started_parts)
            console.print(f"stopped {', '.join(started_parts)}")


def _write_report(console: Console, settings: Settings, campaign_id: str) -> None:
    """The campaign's report (``courrier report``), written before the demo's topics go: where to open it."""
    from processors.analytics.cli import campaign_report
    from processors.analytics.page import write

    built, _ = campaign_report(settings, (1_000_000, 60.0), campaign_id)
    html_path, _json = write(built, settings.state_dir / "reports" / campaign_id)
    headline = (built.get("ab_test") or {}).get("headline")
    console.print(f"[green]✓[/] campaign report: {html_path}" + (f" — {headline}" if headline else ""))


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _summarise(console: Console, message_ids: list[str], outcomes: Outcomes, elapsed: float) -> bool:
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    missing = duplicated = 0
    for message_id in message_ids:
        terminal = outcomes.terminal(message_id)
        if not terminal:
            missing += 1
            continue
        duplicated += len(terminal) > 1
        final = terminal[-1]
        counts[(final["status"], final["channel"] or "-", final.get("provider") or "-", final["reason"] or "-",
                final["fallback_reason"] or "-")] += 1
    table = Table(title=f"{len(message_ids)} messages, terminal receipts by status, channel and provider")
    for column in ("status", "channel", "provider", "reason", "channel fallback", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for row, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(*row, str(n))
    console.print(table)
    done = len(message_ids) - missing
    console.print(f"elapsed {elapsed:.1f}s · {done / elapsed:.0f} msg/s to a terminal receipt · "
                  f"{missing} without a terminal receipt · {duplicated} with more than one · "
                  f"{len(outcomes.dead_letters)} dead-lettered")
    return missing == 0 and duplicated == 0
