"""``courrier consent review``: the opt-outs read from free text, honoured at once, listed for a person to look at.

The keywords stage opts a number out when a message only resembles an opt-out (a phrase, or a short reply holding an
opt-out word: ``processors.keywords.free_text``) and flags the change ``needs_review``. A reviewer reads the text: a
real opt-out needs nothing more; a misreading is put right only by the person opting in again (START), never by us.
Changes written before the flag existed count when their keyword evidence says ``fuzzy``.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import typer

from common.config import get_settings
from courrier.consent_read import as_json, history, read_changes
from processors.runtime.stage import Event


def needs_review(change: Event) -> bool:
    """Whether ``change`` is an opt-out read from free text: flagged, or keyword evidence saying ``fuzzy``."""
    if change.get("needs_review"):
        return True
    if change.get("source") != "keyword" or not change.get("evidence"):
        return False
    try:
        evidence: Any = json.loads(change["evidence"])
    except ValueError:
        return False
    return isinstance(evidence, dict) and evidence.get("fuzzy") is True


def to_review(changes: list[Event], since: datetime) -> list[Event]:
    """The changes to review made at or after ``since``, oldest first, each once."""
    return [change for change in history(changes) if needs_review(change) and change["changed_at"] >= since]


def review_command(
    days: int = typer.Option(30, "--days", min=1, help="Changes of the last DAYS days."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON array."),
    timeout_s: float = typer.Option(60.0, "--timeout", min=1, help="Give up reading after this many seconds."),
) -> None:
    """Opt-outs read from free text ("please stop texting me", "Arrêtez", "sluta skicka"), already honoured, for review:
    when, the number, the group, the text received and what was matched."""
    since = datetime.now(timezone.utc) - timedelta(days=days)
    found = to_review(read_changes(get_settings(), None, timeout_s), since)
    rows = [as_json(change) for change in found]
    if json_output:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no opt-out to review in the last {days} days")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"opt-outs read from free text, last {days} days")
    for name in ("changed_at", "e164", "group", "text", "matched", "language"):
        table.add_column(name)
    for row in rows:
        evidence = row["evidence"] if isinstance(row["evidence"], dict) else {}
        table.add_row(str(row["changed_at"]), str(row["e164"]), str(row["subscription_group"]), str(evidence.get("text", "-")),
                      str(evidence.get("matched", "-")), str(evidence.get("language") or "-"))
    Console().print(table)
