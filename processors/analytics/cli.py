"""``courrier report``: a campaign's (or a time range's transactional) funnel, rates, A/B verdict and charts, written as
one self-contained HTML page and ``summary.json``.

A bad argument or an unknown campaign ends in one line and exit code 2; a campaign with no receipts yet gets a page
that says so.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Optional

import typer

from common import logs
from common.config import Settings, get_settings


def report(
    campaign_id: Optional[str] = typer.Option(None, "--campaign", help="The campaign to report on (its A/B variants compared)."),
    since: Optional[str] = typer.Option(None, "--from", help="Transactional report: messages requested from this time "
                                        "(ISO 8601 with an offset, or a date = its midnight UTC)."),
    until: Optional[str] = typer.Option(None, "--to", help="… up to this time, excluded (same format as --from)."),
    template: Optional[str] = typer.Option(None, "--template", help="Transactional report: this template only (default: all, "
                                           "one column per template)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for report.html and summary.json "
                                       "(default: report-<campaign> or report-<from>_<to> in the current folder)."),
    max_records: int = typer.Option(5_000_000, "--max-records", min=1, help="Read at most this many records per topic."),
    timeout_s: float = typer.Option(300.0, "--timeout", min=1, help="Stop reading a topic after this many seconds."),
) -> None:
    """Write report.html (tables, charts, A/B verdict; opens offline) and summary.json for a campaign or a time range."""
    from processors.analytics import page
    from common.kafka_clients import require_broker

    if campaign_id is not None and (since or until or template):
        raise typer.BadParameter("give either --campaign, or --from and --to (with --template), not both", param_hint="--campaign")
    if campaign_id is None and not (since and until):
        raise typer.BadParameter("give --campaign ID, or --from and --to for transactional traffic", param_hint="--campaign")
    # Every argument is checked (the window parsed) before the broker is asked anything.
    make = (partial(campaign_report, campaign_id=campaign_id) if campaign_id is not None
            else partial(_transactional, window=_window(since or "", until or ""), template=template))
    settings = get_settings()
    require_broker(settings)
    logs.configure("WARNING")
    built, folder = make(settings, limits=(max_records, timeout_s))
    html_path, json_path = page.write(built, out or folder)
    typer.echo(f"{built['receipts']:,} receipts of {built['messages']:,} messages → {html_path} and {json_path}")
    if built["empty"]:
        typer.echo("no receipts yet: the page says so")
    elif built["ab_test"] and built["ab_test"]["headline"]:
        typer.echo(built["ab_test"]["headline"])


def campaign_report(settings: Settings, limits: tuple[int, float], campaign_id: str) -> tuple[dict[str, Any], Path]:
    """The campaign's report and its default folder; an id no record, request or receipt names is a bad parameter."""
    from processors.analytics import read
    from processors.analytics.report import build
    from processors.runtime.snapshot import read_row

    record = read_row(settings, "campaigns", campaign_id)
    collected = read.campaign(settings, campaign_id, *limits)
    if record is None and not collected.found:
        raise typer.BadParameter(f"no campaign {campaign_id!r}: not in {settings.topic('campaigns')}, and no request or "
                                 "receipt names it", param_hint="--campaign")
    about = {"campaign": campaign_id, "state": record["state"] if record else None,
             "template": record["template_id"] if record else None,
             "variants": ", ".join(f"{k}={v:g}" for k, v in (record["variants"] if record else {}).items()) or None}
    built = build(f"Campaign {campaign_id}", about, collected.summary, collected.policies, True, datetime.now(timezone.utc),
                  collected.complete)
    return built, Path(f"report-{_safe(campaign_id)}")


def _transactional(settings: Settings, limits: tuple[int, float], window: tuple[datetime, datetime],
                   template: str | None) -> tuple[dict[str, Any], Path]:
    """The transactional lane's report over ``window``, one arm per template, and its default folder."""
    from processors.analytics import read
    from processors.analytics.report import build

    start, end = window
    collected = read.transactional(settings, start, end, template, *limits)
    about = {"lane": "transactional", "from": start.isoformat(), "to": end.isoformat(), "template": template or "all"}
    title = f"Transactional traffic {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
    built = build(title, about, collected.summary, collected.policies, False, datetime.now(timezone.utc), collected.complete)
    return built, Path(f"report-{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}")


def _window(since: str, until: str) -> tuple[datetime, datetime]:
    start, end = moment(since, "--from"), moment(until, "--to")
    if end <= start:
        raise typer.BadParameter(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})", param_hint="--to")
    return start, end


def moment(text: str, hint: str) -> datetime:
    """An ISO 8601 time with an offset, or a bare date (its midnight UTC), in UTC; ``BadParameter`` naming ``hint`` otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time, e.g. 2026-12-01T00:00:00+01:00 or 2026-12-01",
                                 param_hint=hint) from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return when.replace(tzinfo=timezone.utc)
    if when.tzinfo is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset; add one, e.g. +01:00 or Z", param_hint=hint)
    return when.astimezone(timezone.utc)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
