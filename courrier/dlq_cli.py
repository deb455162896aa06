"""``courrier dlq list|show|requeue|purge``: the dead-letter topic for operators (``courrier.dlq``)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import typer

from common.config import get_settings
from common.errors import CourrierError
from common.logs import mask_text
from courrier import dlq
from processors.runtime.serde import AvroSerde

app = typer.Typer(no_args_is_help=True, help="Inspect the dead-letter topic, requeue records after a fix (each once), "
                                             "mark records handled.")

STAGE = typer.Option(None, "--stage", help="Only records dead-lettered by this stage.")
REASON = typer.Option(None, "--reason", help="Only records whose error class or message contains this (any case).")
SINCE = typer.Option(None, "--since", help="Only records that failed at or after this ISO 8601 time (UTC unless it says).")
UNTIL = typer.Option(None, "--until", help="Only records that failed before this ISO 8601 time.")
KEY = typer.Option(None, "--key", help="Only records with exactly this key (e.g. the E.164 number of send-requested records).")


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time (e.g. 2026-12-07T08:00:00Z)", param_hint=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _selection(stage, reason, since, until, key, handled_too: bool = False) -> dlq.Selection:
    return dlq.Selection(stage, reason, _when(since, "--since"), _when(until, "--until"), key, handled_too)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"courrier: {exc}", err=True)
    return typer.Exit(1)


@app.command("list")
def list_command(
    stage: Optional[str] = STAGE, reason: Optional[str] = REASON, since: Optional[str] = SINCE, until: Optional[str] = UNTIL,
    key: Optional[str] = KEY,
    handled_too: bool = typer.Option(False, "--all", help="Also the records already requeued or purged, with what was done."),
    limit: int = typer.Option(50, min=1, max=100_000, help="At most this many rows (the count says how many match)."),
) -> None:
    """A table of dead-lettered records not handled yet: id (PARTITION:OFFSET), when, which stage, the error, the
    source offset, the key (numbers masked)."""
    from rich.console import Console
    from rich.table import Table

    try:
        records, handled = dlq.read(get_settings(), _selection(stage, reason, since, until, key, handled_too))
    except CourrierError as exc:
        raise _fail(exc)
    columns = ["id", "failed_at", "stage", "error", "source", "key", "bytes"] + (["handled"] if handled_too else [])
    table = Table(title="dead-letter")
    for column in columns:
        table.add_column(column)
    for record in records[:limit]:
        done = handled.get(record.id)
        row = {**record.summary, "handled": f"{done['action']} {done['at']}" if done else ""}
        table.add_row(*(row[c] for c in columns))
    Console().print(table)
    typer.echo(f"{len(records)} records" + (f", the first {limit} shown" if len(records) > limit else ""))


@app.command("show")
def show_command(record_id: str = typer.Argument(..., metavar="ID", help="PARTITION:OFFSET, as `courrier dlq list` shows it.")) -> None:
    """One record in full: stage, reason, source topic/partition/offset, headers, and its original bytes decoded with
    its source topic's schema when they decode, else in hex (phone numbers masked)."""
    settings = get_settings()
    try:
        record, done = dlq.find(settings, record_id)
    except CourrierError as exc:
        raise _fail(exc)
    from processors.runtime import policy

    lines = [("id", record.id), ("failed at", record.header(policy.FAILED_AT)), ("stage", record.header(policy.STAGE)),
             ("reason", mask_text(record.reason)), ("source topic", record.header(policy.SOURCE_TOPIC)),
             ("source partition", record.header(policy.SOURCE_PARTITION)), ("source offset", record.header(policy.SOURCE_OFFSET)),
             ("key", mask_text(record.key_text)), ("handled", f"{done['action']} at {done['at']}" if done else "no")]
    for name, value in lines:
        typer.echo(f"{name}: {value}")
    typer.echo("headers:")
    for name, value in record.headers:
        typer.echo(f"  {name}: {mask_text(value.decode('utf-8', 'replace'))}")
    try:
        value = dlq.decoded(settings, record, AvroSerde(settings.registry_url, settings.topic))
        typer.echo(f"value ({dlq.source_of(settings, record)}):")
        typer.echo(mask_text(json.dumps(value, default=str, ensure_ascii=False, indent=2)))
    except CourrierError as exc:  # not decodable, or no schema to decode it with
        typer.echo(f"value ({len(record.value or b'')} bytes, not decodable: {mask_text(str(exc))}):")
        typer.echo((record.value or b"").hex())


@app.command("requeue")
def requeue_command(stage: Optional[str] = STAGE, reason: Optional[str] = REASON, since: Optional[str] = SINCE,
                    until: Optional[str] = UNTIL, key: Optional[str] = KEY) -> None:
    """Put the selected records back on their source topic with their original bytes, each once: a requeued record is
    remembered (dead-letter-handled) and never sent again. Refuses, sending nothing, when a record's bytes do not
    decode with its source topic's current schema."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    selection = _selection(stage, reason, since, until, key)
    if not selection.narrowed:
        raise typer.BadParameter("name what to requeue: --stage, --reason, --since/--until or --key")
    settings = get_settings()
    try:
        records, _handled = dlq.read(settings, selection)
        dlq.check(settings, records)  # before the progress bar: a refusal is one line
        with Progress(TextColumn("requeueing"), BarColumn(), MofNCompleteColumn(), transient=True) as progress:
            task = progress.add_task("requeue", total=len(records))
            count = dlq.requeue(settings, records, on_record=lambda: progress.advance(task))
    except CourrierError as exc:
        raise _fail(exc)
    typer.echo(f"requeued {count} records")


@app.command("purge")
def purge_command(
    stage: Optional[str] = STAGE, reason: Optional[str] = REASON, since: Optional[str] = SINCE, until: Optional[str] = UNTIL,
    key: Optional[str] = KEY, yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Mark the selected records handled: `list` hides them, `requeue` never sends them. dead-letter is not compacted,
    so nothing is deleted: a marker in dead-letter-handled says so, and retention (30 days) removes the records."""
    settings = get_settings()
    try:
        records, _handled = dlq.read(settings, _selection(stage, reason, since, until, key))
        if not records:
            typer.echo("no dead-letter record to purge")
            return
        if not yes and not typer.confirm(f"mark {len(records)} dead-letter records handled (they will not be requeued)?"):
            raise typer.Exit(1)
        count = dlq.purge(settings, records)
    except CourrierError as exc:
        raise _fail(exc)
    typer.echo(f"purged {count} records (marked handled; retention deletes them from dead-letter)")
