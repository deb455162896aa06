"""``courrier consent export NUMBER|--group G``: the full consent history with its evidence, for an auditor.

The file is the auditor's copy: numbers and evidence are written in full. Logs and the terminal only
ever show a masked number. Rows are every change (``courrier.consent_read``), oldest first, with every
evidence column (``COLUMNS``); CSV cells holding JSON evidence keep it as JSON text.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import typer

from common.config import get_settings
from common.errors import CourrierError
from common.logs import mask_phone
from courrier.consent_read import COLUMNS, as_json, cell, history, read_changes
from processors.rules.consent_evidence import e164 as to_e164
from processors.runtime.stage import Event

log = logging.getLogger(__name__)
FORMATS = ("csv", "json")


def render(changes: Sequence[Event], fmt: str) -> str:
    """``changes`` as a CSV file (a header of ``COLUMNS``, one row each) or one JSON array of objects."""
    rows = [as_json(change) for change in changes]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([cell(row[name]) for name in COLUMNS])
    return buffer.getvalue()


def export_command(
    number: Optional[str] = typer.Argument(None, help="The person's number (E.164, e.g. +33612345678); or --group."),
    group: Optional[str] = typer.Option(None, "--group", help="Every number's changes in this subscription group (with NUMBER: "
                                        "that number's in this group)."),
    fmt: str = typer.Option("csv", "--format", help="csv or json."),
    out: Optional[Path] = typer.Option(None, "--out", dir_okay=False, help="Write here (default: standard output)."),
    timeout_s: float = typer.Option(60.0, "--timeout", min=1, help="Give up reading after this many seconds."),
) -> None:
    """Write every consent change of NUMBER (or of --group) with its evidence: when, status, source, the text shown,
    the IP address or inbound message id, who recorded it. The file is unmasked (the auditor's copy); logs are masked."""
    if fmt not in FORMATS:
        raise CourrierError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if number is None and group is None:
        raise CourrierError("give a NUMBER or --group G")
    e164 = None
    if number is not None:
        try:
            e164 = to_e164(number, None)
        except ValueError as exc:
            raise CourrierError(f"NUMBER: {exc}") from None
    changes = history(read_changes(get_settings(), e164, timeout_s), e164, group)
    text = render(changes, fmt)
    who = mask_phone(e164) if e164 else f"group {group}"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(changes)} consent change(s) of {who} written to {out}", err=True)
    log.info("consent exported", extra={"who": who, "changes": len(changes), "format": fmt})
