"""How ``courrier campaign status`` shows a campaign: its record, receipts, clicks per button and conversions."""
from __future__ import annotations

from typing import Any

import typer

from processors.campaigns.status import ConversionCounts
from processors.conversions.clicks import ButtonClicks


def engagement(clicks: list[ButtonClicks], conversions: ConversionCounts) -> dict[str, Any]:
    """The summary's ``clicks`` and ``conversions`` entries (JSON-ready)."""
    return {
        "clicks": [{"variant": c.variant, "button": c.button, "unique": c.unique, "repeats": c.repeats, "bots": c.bots} for c in clicks],
        "conversions": [{"variant": variant, "button": button, "event": event, "currency": currency, "count": number,
                         "value_micros": micros}
                        for (variant, button, event, currency), (number, micros) in sorted(conversions.counts.items(), key=str)],
        "conversions_complete": conversions.complete,
    }


def print_status(summary: dict[str, Any]) -> None:
    """The summary as a few lines and tables."""
    from rich.console import Console
    from rich.table import Table

    variants = ", ".join(f"{k}={v:g}" for k, v in summary["variants"].items()) or "-"
    typer.echo(f"campaign {summary['campaign_id']}: {summary['state']} since {summary['changed_at']} by {summary['changed_by'] or '-'}")
    typer.echo(f"template {summary['template_id'] or '-'}, audience {summary['audience'] or '-'}, variants {variants}")
    if "receipts" not in summary:
        return
    console = Console()
    title = f"receipts ({summary['receipts_scanned']:,} records scanned{'' if summary['receipts_complete'] else ', scan stopped early'})"
    tables = [(title, ("variant", "status", "channel", "receipts"),
               [(r["variant"], r["status"], r["channel"], f"{r['count']:,}") for r in summary["receipts"]])]
    if summary.get("clicks"):
        tables.append(("clicks per button (unique, repeats, link-preview bots)", ("variant", "button", "unique", "repeats", "bots"),
                       [(c["variant"], c["button"], str(c["unique"]), str(c["repeats"]), str(c["bots"])) for c in summary["clicks"]]))
    if summary.get("conversions"):
        tables.append(("conversions", ("variant", "button", "event", "count", "value"),
                       [(c["variant"], c["button"], c["event"], str(c["count"]),
                         f"{c['value_micros'] / 1e6:,.2f} {c['currency']}" if c["currency"] else "-") for c in summary["conversions"]]))
    for name, columns, rows in tables:
        table = Table(title=name)
        for column in columns:
            table.add_column(column, justify="left" if column in ("variant", "status", "channel", "button", "event") else "right")
        for row in rows:
            table.add_row(*(cell or "-" for cell in row))
        console.print(table)
