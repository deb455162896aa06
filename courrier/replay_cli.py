"""``courrier replay``: re-publish a range of a topic into a stage's input, with a progress bar, or a dry-run table."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from common.config import get_settings
from common.errors import CourrierError
from courrier.replay import Interrupted, Request, Summary, parse_resume


def command(
    topic: str = typer.Option(..., "--topic", help="The logical topic to read from (see `courrier topology list`)."),
    start: str = typer.Option(..., "--from", help="Start, included: an ISO 8601 time (UTC unless it says otherwise) or, "
                                                  "with --partition, an offset."),
    end: str = typer.Option(..., "--to", help="End, excluded: an ISO 8601 time, 'now', or, with --partition, an offset."),
    into: str = typer.Option(..., "--into", help="The stage to replay into (consent, channel, render, dispatch, receipt, "
                                                 "keywords): its input topic that carries these records, from topology/."),
    partition: Optional[int] = typer.Option(None, "--partition", min=0, help="Only this partition (required for offset bounds)."),
    filters: list[str] = typer.Option([], "--filter", help="campaign=ID, status=STATUS or recipient=+E164; repeat to "
                                                           "require several."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Publish nothing: a table of what would go where "
                                                          "(records per target topic, campaign and status)."),
    force: bool = typer.Option(False, "--force", help="Send again what dispatch's ledger says was handed over already "
                                                      "(each resend gets a SENT receipt, reason forced_resend)."),
    resume: Optional[str] = typer.Option(None, "--resume", help="PARTITION:OFFSET,… where an interrupted replay stopped "
                                                                "(the replay prints the whole command)."),
) -> None:
    """Re-publish the records of TOPIC between --from and --to into a stage's input, each with a `courrier-replay`
    header naming the replay. Nothing already submitted is submitted again (dispatch's ledger) unless --force; consent
    is checked again as of now. Ctrl-C stops after what was read is delivered and prints the command to resume."""
    from courrier import replay_copy

    request = Request(topic=topic, start=start, end=end, into=into, partition=partition, filters=tuple(filters), force=force)
    settings = get_settings()
    now = datetime.now(timezone.utc)
    try:
        plan = replay_copy.plan(settings, request, now, parse_resume(resume))
    except CourrierError as exc:  # bad input, an unreachable part: one line, nothing sent
        typer.echo(f"courrier: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{plan.replay_id}: {plan.size} records of {plan.source} → {plan.target}"
               + (" (dry run)" if dry_run else "") + (" (forced)" if force else ""))
    try:
        summary = _with_progress(settings, plan, dry_run)
    except Interrupted as exc:
        typer.echo(f"courrier: {plan.replay_id} {exc}; resume with:\n  "
                   f"{request.command(exc.resume, end=_pinned(end, now))}", err=True)
        raise typer.Exit(130 if exc.why == "interrupted" else 1)
    except CourrierError as exc:
        typer.echo(f"courrier: {exc}", err=True)
        raise typer.Exit(1)
    _report(summary, dry_run)


def _pinned(end: str, now: datetime) -> str:
    """A resume must not reach records written after the replay began (its own copies, when it writes to its source)."""
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z") if end.strip().lower() == "now" else end


def _with_progress(settings, plan, dry_run: bool) -> Summary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from courrier import replay_copy

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("counting" if dry_run else "replaying", total=plan.size)
        return replay_copy.copy(settings, plan, dry_run, on_record=lambda: progress.advance(task))


def _report(summary: Summary, dry_run: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary.replay_id}: {'would replay' if dry_run else 'replayed'}")
    for column in ("target topic", "campaign", "status", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for (target, campaign, status), count in sorted(summary.counts.items()):
        table.add_row(target, campaign, status, str(count))
    Console().print(table)
    skipped = f", {summary.skipped} left out by the filters" if summary.skipped else ""
    broken = f" ({summary.undecodable} not decodable)" if summary.undecodable else ""
    typer.echo(f"{summary.total} records {'would be ' if dry_run else ''}replayed{skipped}{broken}")

