"""``courrier campaign send|cancel|status``: stream an audience into send-requested, stop a campaign, show where it stands.

Every problem with the arguments, the audience's header or the templates is found before the
first record is written, and ends in one line and exit code 2.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from common import logs
from common.config import Settings, get_settings
from processors.campaigns.variants import NAME, POLICIES, Variant, VariantError, VariantPlan, parse_variant

if TYPE_CHECKING:  # the modules behind these pull in Kafka, pyarrow and phonenumbers: loaded when a command runs, not for --help
    from processors.campaigns.audience import Audience
    from processors.campaigns.logic import CampaignSpec
    from processors.campaigns.publish import SendReport

app = typer.Typer(no_args_is_help=True, help="Send a campaign from a CSV or Parquet audience, cancel it, show its state.")

CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
LANES = {"marketing": "MARKETING", "transactional": "TRANSACTIONAL"}
MAX_VALIDITY_S = 7 * 24 * 3600


@app.command()
def send(
    template: str = typer.Option(..., "--template", help="Template id (a file of the templates folder, without .toml)."),
    audience: Path = typer.Option(..., "--audience", help="CSV or Parquet file: a `recipient` column; optional `region`, `locale`, "
                                  "`time_zone`; every other column is a template variable."),
    campaign_id: Optional[str] = typer.Option(None, "--campaign-id", help="Campaign id; the same id on a re-run repeats the same "
                                              "message ids and variants instead of sending again. Default: TEMPLATE-<random>."),
    group: Optional[str] = typer.Option(None, "--group", help="Subscription group whose opt-in the campaign relies on (marketing)."),
    lane: str = typer.Option("marketing", "--lane", help="marketing (needs --group) or transactional."),
    policy: str = typer.Option("sms", "--policy", help="Channel policy: rcs_with_sms_fallback, rcs_only, sms or mms."),
    variant_specs: Optional[list[str]] = typer.Option(None, "--variant", help="A/B arm NAME=WEIGHT[:POLICY][:template=ID], "
                                                      "repeatable, e.g. --variant A=50:sms --variant B=50:rcs_with_sms_fallback."),
    send_at: Optional[str] = typer.Option(None, "--send-at", help="Earliest send time, ISO 8601 with an offset."),
    validity: Optional[int] = typer.Option(None, "--validity", help="Seconds after the request past which a message must not leave."),
    region: Optional[str] = typer.Option(None, "--region", help="Country to read national numbers in, for rows without a region."),
    sms_fallback_after: Optional[int] = typer.Option(None, "--sms-fallback-after", help="Seconds an RCS message may go without "
                                                     "a delivery report before its SMS fallback goes (rcs_with_sms_fallback rows)."),
    rate: Optional[float] = typer.Option(None, "--rate", help="At most this many rows per second into send-requested."),
    percent: Optional[float] = typer.Option(None, "--percent", help="Progressive rollout: send to this deterministic share "
                                            "(0-100] of the audience only; `courrier campaign extend` sends more later."),
    changed_by: str = typer.Option("cli", "--by", help="Who starts the campaign, kept in its campaigns record."),
    as_json: bool = typer.Option(False, "--json", help="No progress bar; print the summary as one JSON object."),
) -> None:
    """Stream AUDIENCE into send-requested (constant memory, progress bar), after writing the campaign ACTIVE."""
    from processors.campaigns.logic import CampaignSpec
    from processors.campaigns.rollout import RolloutError, first

    settings = get_settings()
    lane_symbol = _choice(lane, LANES, "--lane")
    if lane_symbol == "MARKETING" and not group:
        raise typer.BadParameter("a marketing campaign needs --group, the subscription group whose opt-in it relies on",
                                 param_hint="--group")
    plan = _variant_plan(variant_specs or [])
    spec = CampaignSpec(
        campaign_id=_campaign_id(campaign_id, template), template_id=template, policy=_choice(policy, POLICIES, "--policy"),
        lane=lane_symbol, subscription_group=group, variants=plan, send_at=_send_at(send_at),
        validity_seconds=_validity(validity), default_region=_region(region),
        sms_fallback_after_s=_fallback_window(sms_fallback_after, policy, plan),
    )
    if percent is not None:
        try:
            spec = replace(spec, sample=first(percent))
        except RolloutError as exc:
            raise typer.BadParameter(str(exc), param_hint="--percent") from None
    _send(settings, spec, audience, changed_by, rate, as_json)


@app.command()
def extend(
    campaign_id: str = typer.Argument(..., help="A campaign sent with --percent."),
    percent: Optional[float] = typer.Option(None, "--percent", help="Extend to this share (0-100] of the audience in all."),
    rest: bool = typer.Option(False, "--rest", help="Extend to everyone left (100 %)."),
    audience: Optional[Path] = typer.Option(None, "--audience", help="The audience file, if it moved since the first step "
                                            "(default: the one the campaigns record names). Same rows, same order."),
    rate: Optional[float] = typer.Option(None, "--rate", help="At most this many rows per second into send-requested."),
    changed_by: str = typer.Option("cli", "--by", help="Who extends the campaign, kept in its campaigns record."),
    as_json: bool = typer.Option(False, "--json", help="No progress bar; print the summary as one JSON object."),
) -> None:
    """Send a rollout's next slice: the recipients placed between the share already sent and --percent (or --rest),
    with the campaign's saved settings; nobody already sent to is sent again."""
    from processors.runtime.snapshot import read_row
    from processors.campaigns.rollout import FULL, RolloutError, extension
    from processors.campaigns.saved import load
    from common.kafka_clients import require_broker

    if rest == (percent is not None):
        raise typer.BadParameter("give either --percent M or --rest", param_hint="--percent")
    settings = get_settings()
    require_broker(settings)
    logs.configure("WARNING")
    record = read_row(settings, "campaigns", campaign_id)
    if record is None:
        raise typer.BadParameter(f"no campaign {campaign_id!r} in {settings.topic('campaigns')}", param_hint="CAMPAIGN_ID")
    if record["state"] == "CANCELLED":
        raise typer.BadParameter(f"campaign {campaign_id!r} was cancelled at {record['changed_at'].isoformat()}", param_hint="CAMPAIGN_ID")
    if record.get("rollout_percent") is None or record.get("spec") is None:
        raise typer.BadParameter(f"campaign {campaign_id!r} was not sent as a progressive rollout (campaign send --percent N)",
                                 param_hint="CAMPAIGN_ID")
    try:
        spec = replace(load(record["spec"]), sample=extension(record["rollout_percent"], FULL if rest else float(percent or 0)))
    except (RolloutError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--percent") from None
    _send(settings, spec, audience or Path(record["audience"] or ""), changed_by, rate, as_json)


def _send(settings: Settings, spec: CampaignSpec, audience: Path, changed_by: str, rate: float | None, as_json: bool) -> None:
    """Check the audience and templates, then stream; the summary printed, the exit code set by the outcome."""
    from processors.campaigns.audience import AudienceError, open_audience
    from processors.campaigns.control import CampaignError
    from processors.campaigns.logic import TIME_ZONE
    from common.kafka_clients import require_broker

    if rate is not None and rate <= 0:
        raise typer.BadParameter(f"must be a positive number of rows per second, not {rate}", param_hint="--rate")
    try:
        opened = open_audience(audience)
    except AudienceError as exc:
        raise typer.BadParameter(str(exc), param_hint="--audience") from None
    try:
        require_broker(settings)
        _check_templates(settings, spec, opened.columns)
        logs.configure("WARNING")
        try:
            report = _run(settings, spec, opened, str(audience), changed_by, rate, as_json)
        except CampaignError as exc:
            raise typer.BadParameter(str(exc), param_hint="--campaign-id") from None
        except AudienceError as exc:
            raise typer.BadParameter(f"{exc} (rows before it were sent; a re-run with --campaign-id {spec.campaign_id} "
                                     "repeats them, it does not send them twice)", param_hint="--audience") from None
    finally:
        opened.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        _print_summary(report, time_zone_column=TIME_ZONE in opened.columns)
    if report.outcome == "interrupted":
        raise typer.Exit(130)
    if report.failed or report.outcome == "failed":
        raise typer.Exit(1)


@app.command()
def cancel(
    campaign_id: str = typer.Argument(..., help="The campaign to cancel."),
    changed_by: str = typer.Option("cli", "--by", help="Who cancels, kept in the campaigns record."),
) -> None:
    """Write the campaign CANCELLED: a running send stops, and dispatch submits none of its messages from now on."""
    from processors.campaigns.control import CampaignError, cancel_campaign
    from common.kafka_clients import require_broker

    settings = get_settings()
    require_broker(settings)
    logs.configure("WARNING")
    try:
        record, already = cancel_campaign(settings, campaign_id, changed_by)
    except CampaignError as exc:
        raise typer.BadParameter(str(exc), param_hint="CAMPAIGN_ID") from None
    when = record["changed_at"].isoformat()
    typer.echo(f"campaign {campaign_id} {'was already' if already else 'is now'} CANCELLED ({when}, by {record['changed_by'] or '-'})")


@app.command()
def status(
    campaign_id: str = typer.Argument(..., help="The campaign to show."),
    receipts: bool = typer.Option(True, "--receipts/--no-receipts", help="Also count the campaign's receipts per variant, status and "
                                  "channel, clicks per button and conversions."),
    max_records: int = typer.Option(1_000_000, "--max-records", min=1, help="Read at most this many receipt records."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The campaign's state (ACTIVE or CANCELLED, since when, by whom) and its receipts so far per variant, status and channel."""
    from processors.runtime.snapshot import read_row
    from processors.campaigns.status import count_conversions, count_receipts
    from processors.campaigns.status_view import engagement, print_status
    from common.kafka_clients import require_broker

    settings = get_settings()
    require_broker(settings)
    logs.configure("WARNING")
    record = read_row(settings, "campaigns", campaign_id)
    if record is None:
        raise typer.BadParameter(f"no campaign {campaign_id!r} in {settings.topic('campaigns')}", param_hint="CAMPAIGN_ID")
    counted = count_receipts(settings, campaign_id, max_records=max_records) if receipts else None
    summary: dict[str, Any] = {
        "campaign_id": campaign_id, "state": record["state"], "changed_at": record["changed_at"].isoformat(),
        "changed_by": record["changed_by"], "template_id": record["template_id"], "audience": record["audience"],
        "variants": record["variants"],
    }
    if counted is not None:
        summary["receipts"] = [{"variant": v, "status": s, "channel": c, "count": n} for (v, s, c), n in sorted(counted.counts.items(), key=str)]
        summary["receipts_scanned"], summary["receipts_complete"] = counted.scanned, counted.complete
        summary.update(engagement(counted.clicks, count_conversions(settings, campaign_id, max_records=max_records)))
    if as_json:
        typer.echo(json.dumps(summary))
        return
    print_status(summary)


def _choice(value: str, choices: dict[str, str], hint: str) -> str:
    symbol = choices.get(value.lower())
    if symbol is None:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=hint)
    return symbol


def _campaign_id(given: str | None, template: str) -> str:
    if given is None:
        return f"{template}-{uuid.uuid4().hex[:8]}"
    if not CAMPAIGN_ID.fullmatch(given):
        raise typer.BadParameter(f"{given!r} must be 1 to 128 letters, digits, _ . : - (starting with a letter or digit)",
                                 param_hint="--campaign-id")
    return given


def _variant_plan(specs: list[str]) -> VariantPlan | None:
    if not specs:
        return None
    try:
        return VariantPlan([parse_variant(spec) for spec in specs])
    except VariantError as exc:
        raise typer.BadParameter(str(exc), param_hint="--variant") from None


def _send_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time, e.g. 2025-06-01T09:00:00+02:00", param_hint="--send-at") from None
    if when.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset; add one, e.g. +02:00 or Z", param_hint="--send-at")
    return when


def _fallback_window(seconds: int | None, policy: str, plan: VariantPlan | None) -> int | None:
    """``--sms-fallback-after``, for a campaign where some message may fall back (its policy or a variant's)."""
    if seconds is None:
        return None
    if not 1 <= seconds <= MAX_VALIDITY_S:
        raise typer.BadParameter(f"must be 1 to {MAX_VALIDITY_S} seconds (7 days), not {seconds}", param_hint="--sms-fallback-after")
    policies = {policy.upper(), *((v.policy or "") for v in (plan.variants if plan else ()))}
    if "RCS_WITH_SMS_FALLBACK" not in policies:
        raise typer.BadParameter("applies to rcs_with_sms_fallback only, and neither --policy nor a --variant uses it",
                                 param_hint="--sms-fallback-after")
    return seconds


def _validity(seconds: int | None) -> int | None:
    if seconds is not None and not 1 <= seconds <= MAX_VALIDITY_S:
        raise typer.BadParameter(f"must be 1 to {MAX_VALIDITY_S} seconds (7 days), not {seconds}", param_hint="--validity")
    return seconds


def _region(code: str | None) -> str | None:
    import phonenumbers

    if code is None:
        return None
    if not phonenumbers.country_code_for_region(code.upper()):
        raise typer.BadParameter(f"{code!r} is not a country code phonenumbers knows (e.g. FR, US)", param_hint="--region")
    return code.upper()


def _check_templates(settings: Settings, spec: CampaignSpec, columns: tuple[str, ...]) -> None:
    """Every template the campaign uses has a published version in the template store (seeded from the bundled folder,
    as render's is), and the audience has a column for each variable it needs."""
    from processors.campaigns.logic import columns_missing
    from processors.rules.templates import DEFAULT_DIR
    from processors.templates_store.catalog import TemplateCatalog
    from processors.rules.template_versions import Refused

    store = TemplateCatalog(settings, seed_dir=Path(settings.templates_dir or DEFAULT_DIR))
    store.start()
    try:
        arms: list[Variant] = list(spec.variants.variants) if spec.variants else [Variant("-", 1.0)]
        for arm in arms:
            template_id, policy = arm.template_id or spec.template_id, arm.policy or spec.policy
            hint = "--variant" if arm.template_id else "--template"
            template = store.resolve(template_id, None) if NAME.fullmatch(template_id) else None
            if not isinstance(template, Refused) and template is not None:
                missing = columns_missing(template, policy, columns)
                if missing:
                    raise typer.BadParameter(f"template {template_id!r} needs {', '.join(missing)}, and the audience has "
                                             "no such column", param_hint="--audience")
                continue
            known = ", ".join(store) or "none"
            why = template.detail if isinstance(template, Refused) else f"no template {template_id!r}"
            raise typer.BadParameter(f"{why} in the template store {settings.topic('templates')} (published: {known})",
                                     param_hint=hint)
    finally:
        store.stop()


def _run(settings: Settings, spec: CampaignSpec, opened: Audience, audience_name: str, changed_by: str, rate: float | None,
         quiet: bool) -> SendReport:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from processors.campaigns.publish import CampaignSend

    check_every_s = settings.campaign_cancel_check_s
    sender = CampaignSend(settings, spec)
    try:
        sender.start(audience_name, changed_by)
        if quiet:
            report = sender.stream(opened, rate=rate, check_every_s=check_every_s)
            if report.outcome == "completed" and not report.failed:
                sender.completed(audience_name, changed_by)
            return report
        typer.echo(f"campaign {spec.campaign_id}: {audience_name} ({opened.format}) → {settings.topic('send-requested')}")
        columns = (TextColumn("sending"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[rows]:>12,} rows"),
                   TextColumn("{task.fields[rate]:>9,.0f} rows/s"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns) as progress:
            task = progress.add_task("send", total=opened.size, rows=0, rate=0.0)

            def show(report: SendReport, position: int) -> None:
                elapsed = progress.tasks[task].elapsed or 0.0
                progress.update(task, completed=position, rows=report.rows, rate=report.rows / elapsed if elapsed else 0.0)

            report = sender.stream(opened, rate=rate, check_every_s=check_every_s, on_progress=show)
        if report.outcome == "completed" and not report.failed:
            sender.completed(audience_name, changed_by)
        return report
    finally:
        sender.close()


def _print_summary(report: SendReport, time_zone_column: bool) -> None:
    rate = f" ({report.rows / report.seconds:,.0f} rows/s)" if report.seconds else ""
    typer.echo(f"{report.outcome}: {report.rows:,} rows read, {report.delivered:,} on send-requested in {report.seconds:.1f}s{rate}")
    if report.outside_sample:
        typer.echo(f"{report.outside_sample:,} rows outside this rollout step, left for `courrier campaign extend {report.campaign_id}`")
    if report.variants:
        typer.echo("variants: " + ", ".join(f"{name} {count:,}" for name, count in sorted(report.variants.items())))
    if report.problem_rows:
        found = ", ".join(f"{reason} {count:,}" for reason, count in report.problems.most_common())
        typer.echo(f"{report.problem_rows:,} rows with problems, sent anyway (consent rejects bad numbers with a receipt): {found}")
    if report.malformed_rows:
        typer.echo(f"{report.malformed_rows:,} CSV rows had more or fewer cells than the header (read as far as they went)")
    if report.withdrawn:
        typer.echo(f"{report.withdrawn:,} records withdrawn before they left this process (campaign cancelled)")
    if report.failed or report.outcome == "failed":
        typer.echo(f"{report.failed:,} records NOT written ({report.first_error}); re-run with --campaign-id {report.campaign_id} "
                   "to send the rest (what was written is repeated, not sent twice)")
    if time_zone_column:
        typer.echo("note: the time_zone column was checked but not sent (send-requested has no time-zone field; "
                   "consent uses the number's zone)")
