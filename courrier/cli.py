"""The ``courrier`` command: run stages, the local demo, the real parts, the topology and the benchmarks.

Every failure a user can cause or fix (a bad argument, a part that does not answer) ends in one
line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import sys
from typing import Optional

import click
import typer

from common import logs
from common.config import get_settings
import courrier.bench
import courrier.bench_campaign
import courrier.bench_otp
import courrier.bench_smpp
import courrier.bench_stages
import courrier.bench_table
import courrier.config_report
import courrier.providers_cli
import courrier.replay_cli
import courrier.run_cli
import courrier.consent_history
import courrier.dlq_cli
import courrier.fuzz
import courrier.export_cli
import infra.cli
import infra.k8s.cli
import processors.access.cli
import processors.analytics.cli
import processors.callbacks.cli
import processors.campaigns.cli
import processors.intake.cli
import processors.links.cli
import processors.providers.rbm.cli
import processors.templates_store.cli
import processors.testsends.cli
import processors.webhooks.cli
import topology.cli

app = typer.Typer(
    name="courrier", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Kafka-native SMS, MMS and RCS pipeline: consent → channel → render → dispatch → receipt.",
)
app.add_typer(infra.cli.app, name="infra", help="Fetch, start, stop and inspect the local real parts (Kafka, registry, S3, SMSC, provider simulator).")
app.add_typer(topology.cli.app, name="topology", help="Create topics and register schemas; check schema compatibility.")
app.add_typer(processors.templates_store.cli.app, name="templates", help="Check template files: RCS limits, Liquid syntax, SMS segments.")
processors.templates_store.cli.app.command("test-send")(processors.testsends.cli.test_send)
app.add_typer(processors.providers.rbm.cli.app, name="rcs", help="Check the RCS capability of a list of numbers in bulk.")
app.add_typer(courrier.providers_cli.app, name="providers", help="Show the configured providers, their channels and health.")
app.add_typer(courrier.config_report.app, name="config", help="Check a configuration file; show every setting, its value and source, secrets masked.")
app.add_typer(courrier.consent_history.app, name="consent", help="Consent with its evidence: history, import, export for an auditor, forget (erasure), review of free-text opt-outs.")
app.add_typer(processors.intake.cli.app, name="api", help="Serve the HTTP intake (POST /v1/messages, /v1/messages/batch).")
app.add_typer(processors.webhooks.cli.app, name="webhooks", help="Serve the provider webhook receiver (POST /webhooks/{provider}).")
app.add_typer(processors.links.cli.app, name="links", help="Serve short links: a 302 to the original URL and a CLICKED receipt per click.")
app.add_typer(infra.k8s.cli.app, name="deploy", help="Render Kubernetes manifests from the code: Deployments, KEDA ScaledObjects on lag, Strimzi KafkaTopics.")
app.add_typer(processors.access.cli.app, name="keys", help="Create, list and revoke API keys (scopes, rate limits) for the HTTP APIs.")
app.add_typer(processors.campaigns.cli.app, name="campaign", help="Send a campaign from a CSV or Parquet audience (A/B variants), cancel it, show its state.")
app.add_typer(processors.callbacks.cli.app, name="callbacks", help="Status callbacks: verify a signature, a key's callback secret and default URL.")
app.add_typer(courrier.dlq_cli.app, name="dlq")
bench_app = typer.Typer(no_args_is_help=True, help="Measure throughput; prints figures and ratios, never pass/fail.")
app.add_typer(bench_app, name="bench")
bench_app.command("campaign")(courrier.bench_campaign.command)
bench_app.command("chain")(courrier.bench.command)
bench_app.command("otp")(courrier.bench_otp.command)
bench_app.command("smpp")(courrier.bench_smpp.command)
bench_app.command("stages")(courrier.bench_stages.command)
bench_app.command("table")(courrier.bench_table.command)
app.command("replay")(courrier.replay_cli.command)
app.command("report")(processors.analytics.cli.report)
app.command("fuzz")(courrier.fuzz.command)
app.add_typer(courrier.export_cli.app, name="export", help="Export receipts to a warehouse's files: Parquet or JSON lines, by day, to a folder or S3.")


app.command("run")(courrier.run_cli.run)


@app.command()
def demo(
    count: int = typer.Option(1000, min=1, max=1_000_000, help="How many send-requested events to publish."),
    timeout_s: float = typer.Option(180.0, min=1, help="Give up waiting for terminal receipts after this many seconds."),
    keep_parts: bool = typer.Option(False, "--keep-parts", help="Leave the real parts it started running afterwards."),
) -> None:
    """Start what is missing, run every stage as its own process, send COUNT messages and summarise their receipts."""
    from courrier.demo import run_demo

    settings = get_settings()
    logs.configure("WARNING")
    ok = run_demo(settings, count=count, timeout_s=timeout_s, keep_parts=keep_parts)
    raise typer.Exit(0 if ok else 1)


@app.command()
def phone(
    number: str = typer.Argument(..., help="A phone number in any format."),
    region: Optional[str] = typer.Option(None, "--region", help="ISO country code to read a national number in, e.g. FR."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Is NUMBER a real number, and can it receive SMS? Prints valid (it exists in its country's numbering plan, as
    phonenumbers and Twilio Lookup mean it), e164, region, line_type (from the numbering plan), sms_capable and the
    reason when not SMS-capable: a landline or toll-free number is valid, not SMS-capable."""
    import json

    from processors.rules.numbers import describe

    facts = describe(number, region)
    if as_json:
        typer.echo(json.dumps(facts, ensure_ascii=False))
    else:
        typer.echo("  ".join(f"{k}={v if v is not None else '-'}" for k, v in facts.items()))


@app.command()
def segments(
    text: Optional[str] = typer.Argument(None, help="The SMS text (omit with --jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    jsonl: Optional[str] = typer.Option(None, "--jsonl", help="Read JSON lines {\"text\": …} from this file ('-' for stdin), print one result per line."),
    smart_encoding: bool = typer.Option(False, "--smart-encoding", help="Replace look-alikes (curly quotes, dashes…) when that makes the text GSM-7; adds `text`."),
) -> None:
    """How TEXT travels as SMS: encoding (GSM-7 or UCS-2), segments, characters (septets or UTF-16 units), per_segment, ucs2_triggers."""
    import json

    from processors.render.segments import count
    from processors.render.smart_encoding import smart_encode

    def facts(value: str) -> dict[str, object]:
        sent = smart_encode(value) if smart_encoding else value
        info = count(sent)
        replaced: dict[str, object] = {"text": sent} if smart_encoding else {}
        return {**replaced, "encoding": "GSM-7" if info.encoding == "GSM7" else "UCS-2", "segments": info.segments,
                "characters": info.units, "per_segment": info.per_segment, "ucs2_triggers": list(info.ucs2_triggers)}

    if jsonl is not None:
        stream = sys.stdin if jsonl == "-" else open(jsonl, encoding="utf-8")
        with stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)["text"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise click.UsageError(f"line {number} is not a JSON object with a \"text\" string ({exc.__class__.__name__})")
                typer.echo(json.dumps(facts(value), ensure_ascii=False))
        return
    if text is None:
        raise click.UsageError("give TEXT or --jsonl FILE")
    result = facts(text)
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else "  ".join(f"{k}={v}" for k, v in result.items()))


@app.command("dlr-status")
def dlr_status(
    stat: str = typer.Argument(..., help="A provider status word, e.g. DELIVRD."),
    protocol: str = typer.Option("smpp", "--protocol", help="Whose status words: smpp (DELIVRD, UNDELIV…) or http (DELIVERED, READ…)."),
) -> None:
    """The normalized receipt status (and whether it is final) of a provider's delivery-report status."""
    from processors.receipt.statuses import PROTOCOLS, UnknownProviderStatus, normalize
    from processors.receipts import TERMINAL_STATUSES

    if protocol not in PROTOCOLS:
        raise click.UsageError(f"unknown protocol {protocol!r}; supported: {', '.join(PROTOCOLS)}")
    try:
        normalized = normalize(stat, protocol)
    except UnknownProviderStatus as exc:
        raise click.UsageError(str(exc))
    final = "terminal" if normalized.status in TERMINAL_STATUSES else "not terminal"
    typer.echo(f"{normalized.status} ({final}{', ' + normalized.reason if normalized.reason else ''})")


@bench_app.command("chaos")
def bench_chaos(
    count: int = typer.Option(100_000, min=10, max=1_000_000, help="Requests, each to a number of its own."),
    rate: float = typer.Option(1000.0, min=1, help="Requests published per second."),
    kill_every: float = typer.Option(4.0, min=0, help="Seconds between two SIGKILLs (of a stage chosen in rotation); 0: none."),
    instances: int = typer.Option(1, min=1, max=8, help="Instances of every stage, side by side in its consumer group."),
    rebalance: bool = typer.Option(False, "--rebalance", help="Halfway: one more instance of every stage joins, its oldest is killed for good."),
    broker_restart: bool = typer.Option(True, "--broker-restart/--no-broker-restart", help="Restart the local broker once."),
    seed: Optional[int] = typer.Option(None, help="Random seed for the requests, the kills and the faults."),
    timeout_s: float = typer.Option(1800.0, min=10, help="Give up waiting for terminal receipts after this many seconds."),
) -> None:
    """The whole chain under SIGKILLs, a broker restart and provider faults; every message accounted for from outside.

    Exits 1 on any violation: a message without or with two terminal receipts, a receipt repeated, a duplicate submit
    (counted in the SMSC's and the simulator's own journals), a marketing SMS after its recipient's STOP."""
    import uuid

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from courrier.chaos import ChaosPlan, run_chaos
    from courrier.chaos_report import print_report
    from topology.apply import apply as apply_topology, remove as remove_topics

    settings = get_settings()
    logs.configure("WARNING")
    started_parts = infra.ensure_running(settings)
    chaos_settings = settings.model_copy(update={"topic_prefix": f"chaos-{uuid.uuid4().hex[:8]}-"})
    plan = ChaosPlan(count=count, rate=rate, kill_every_s=kill_every, broker_restart=broker_restart, seed=seed, timeout_s=timeout_s,
                     instances=instances, rebalance=rebalance)
    try:
        apply_topology(chaos_settings)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
            published = progress.add_task("published", total=count)
            ended = progress.add_task("terminal receipts", total=count)
            report = run_chaos(chaos_settings, plan, settings.state_dir / "logs" / "chaos",
                               on_progress=lambda sent, done: (progress.update(published, completed=sent),
                                                               progress.update(ended, completed=done)))
    finally:
        remove_topics(chaos_settings)
        if started_parts:
            infra.stop(settings, started_parts)
    print_report(Console(), report)
    raise typer.Exit(0 if report.ok else 1)
