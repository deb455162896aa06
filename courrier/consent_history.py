"""``courrier consent``: a recipient's consent history, imports and exports with evidence, erasure and the review list.

``history`` is here; the other commands live in their own modules (``consent_import``, ``consent_export``,
``consent_forget``, ``consent_review``) and are registered on this group. Reading is ``courrier.consent_read``.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

import typer

from common.config import get_settings
from courrier.consent_export import export_command
from courrier.consent_forget import forget_command
from courrier.consent_import import import_command
from courrier.consent_read import as_json, history, read_changes
from courrier.consent_review import review_command
from processors.keywords.logic import sender_e164

# The table fits a terminal; --json and `courrier consent export` give every evidence field.
TABLE_FIELDS = ("changed_at", "subscription_group", "status", "basis", "source", "evidence")

app = typer.Typer(no_args_is_help=True, help="Consent with its evidence: history, import, export, forget, review.")
app.command("import")(import_command)
app.command("export")(export_command)
app.command("forget")(forget_command)
app.command("review")(review_command)


@app.callback()
def consent() -> None:
    """Consent with its evidence: when and how a number opted in or out, imports and audits, erasure on request."""


@app.command("history")
def history_command(
    number: str = typer.Argument(..., help="The recipient's number in E.164 form, e.g. +33612345678."),
    group: Optional[str] = typer.Option(None, "--group", help="Only this subscription group."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON array."),
    timeout_s: float = typer.Option(30.0, "--timeout", min=1, help="Give up reading after this many seconds."),
) -> None:
    """Every consent change of NUMBER, oldest first: when, which group, opted in or out, how, and the evidence."""
    e164, _region = sender_e164(number)
    changes = history(read_changes(get_settings(), e164, timeout_s), e164, group)
    if json_output:
        typer.echo(json.dumps([as_json(change) for change in changes], ensure_ascii=False))
        return
    if not changes:
        typer.echo(f"no consent change recorded for {e164}" + (f" in group {group}" if group else ""))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"consent history of {e164}")
    for name in TABLE_FIELDS:
        table.add_column(name)
    for change in changes:
        table.add_row(*(_cell(change.get(name)) for name in TABLE_FIELDS))
    Console().print(table)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "-" if value is None else str(value)
