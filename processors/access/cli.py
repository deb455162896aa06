"""``courrier keys``: create an API key (shown once), list keys (never their secret), revoke one everywhere."""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Optional

import typer

from common.config import get_settings
from processors.access.keys import ID_CHARS, new_key, revoked
from processors.access.scopes import ALL_SCOPES, parse_scopes
from processors.rules.fraud import parse_countries
from processors.runtime.stage import Event, Output

# Kafka clients load only when a command runs, so `courrier --help` stays quick.
app = typer.Typer(no_args_is_help=True, help="Create, list and revoke the API keys of the HTTP APIs.")
MAX_NAME = 64


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="Who holds the key, e.g. billing-app (1 to 64 characters)."),
    scopes: str = typer.Option(..., "--scopes", help=f"Comma-separated scopes: {', '.join(ALL_SCOPES)} (admin implies all)."),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.001, help="Messages per second for this key (default COURRIER_KEY_RATE_PER_S)."),
    burst: Optional[int] = typer.Option(None, "--burst", min=1, help="Messages this key may send at once (default COURRIER_KEY_BURST)."),
    countries: Optional[str] = typer.Option(None, "--countries", help="Comma-separated regions this key may send to, e.g. FR,SE "
                                            "(others: 403 country_not_allowed); any country when omitted."),
) -> None:
    """Print a new key on stdout, once: only its salted hash is kept, so it cannot be shown again."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise typer.BadParameter(f"give a name of 1 to {MAX_NAME} characters", param_hint="--name")
    try:
        granted = parse_scopes(scopes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from None
    try:
        allowed = parse_countries(countries) if countries is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--countries") from None
    from processors.access.store import KEYS_TOPIC, require_topics
    from processors.runtime.publisher import write_now

    settings = get_settings()
    require_topics(settings)
    made = new_key(name, granted, datetime.now(timezone.utc), rate, burst, allowed)
    write_now(settings, [Output(KEYS_TOPIC, made.key_id, made.record)])
    typer.echo(made.key)
    where = f"; to {', '.join(allowed)} only" if allowed else ""
    typer.echo(f"created key {made.key_id} ({name}; {', '.join(granted)}{where}); this is the only time it is shown, keep it in a secret store",
               err=True)


@app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="One JSON object per key, one per line.")) -> None:
    """Every key: id, name, scopes, limits, created, last used (to the usage flush interval) and revoked; never a secret."""
    from processors.access.store import KEYS_TOPIC, USAGE_TOPIC, require_topics
    from processors.runtime.snapshot import snapshot

    settings = get_settings()
    require_topics(settings)
    rows = key_rows(snapshot(settings, KEYS_TOPIC), snapshot(settings, USAGE_TOPIC))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    columns = ("id", "name", "scopes", "countries", "rate_per_s", "burst", "created", "last_used", "revoked")
    table = Table(title="api keys")
    for column in columns:  # ids whole (they are what `revoke` takes), the rest folded rather than cut
        table.add_column(column, no_wrap=column == "id", min_width=ID_CHARS if column == "id" else None, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[c]) for c in columns))
    Console().print(table)


@app.command()
def revoke(key_id: str = typer.Argument(..., help="The id `courrier keys list` shows.")) -> None:
    """Revoke a key: every running HTTP instance refuses it (401) as soon as the record reaches it, within seconds."""
    from processors.access.store import KEYS_TOPIC, AccessError, require_topics
    from processors.runtime.publisher import write_now
    from processors.runtime.snapshot import snapshot

    settings = get_settings()
    require_topics(settings)
    record = snapshot(settings, KEYS_TOPIC).get(key_id)
    if record is None:
        raise AccessError(f"no API key {key_id!r}; `courrier keys list` shows the ids")
    if record["revoked_at"] is not None:
        typer.echo(f"key {key_id} ({record['name']}) was already revoked at {_when(record['revoked_at'])}")
        return
    write_now(settings, [Output(KEYS_TOPIC, key_id, revoked(record, datetime.now(timezone.utc)))])
    typer.echo(f"revoked key {key_id} ({record['name']})")


def key_rows(keys: Mapping[str, Event], usage: Mapping[str, Event]) -> list[dict[str, Any]]:
    """What ``keys list`` shows per key, oldest first: nothing of the salt, the hash or the key."""
    rows = []
    for record in sorted(keys.values(), key=lambda r: (r["created_at"], r["key_id"])):
        used = usage.get(record["key_id"])
        rows.append({
            "id": record["key_id"], "name": record["name"], "scopes": list(record["scopes"]), "rate_per_s": record["rate_per_s"],
            "burst": record["burst"], "created": _when(record["created_at"]), "last_used": _when(used["last_used_at"]) if used else None,
            "revoked": _when(record["revoked_at"]), "countries": record.get("countries") or None,
        })
    return rows


def _when(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return ",".join(value) if isinstance(value, list) else str(value)
