"""``courrier providers list``: every configured provider, the channels it sends, its options (secrets masked) and
its health, asked once (a bind or one cheap request each); and the routes that choose between them."""
from __future__ import annotations

import json
from dataclasses import asdict

import typer

from common.config import get_settings
from processors.providers.deployment import current
from courrier.deployment_report import render, rows
from processors.providers.registry import health

app = typer.Typer(no_args_is_help=True, help="Show the configured providers, their channels and their health.")


@app.command("list")
def list_providers(
    as_json: bool = typer.Option(False, "--json", help="One JSON object: each provider's name, kind, channels, options, health."),
    no_probe: bool = typer.Option(False, "--no-probe", help="Check the settings only; contact no provider."),
) -> None:
    """Each provider from the configuration file (or COURRIER_DISPATCH_PROVIDERS): kind, channels, options with secrets
    masked, and its health ("reachable", "unreachable: …", "misconfigured: …"). Exit 1 when one is not reachable."""
    from courrier.deployment_report import credentials

    settings = get_settings()
    deployment = current(settings)
    state = credentials(settings) if no_probe else (lambda provider: health(provider, settings))
    listed = rows(deployment, settings, state)
    if as_json:
        typer.echo(json.dumps({"providers": [asdict(row) for row in listed]}, indent=2))
    else:
        typer.echo(render(deployment, listed))
    if any(row.state not in ("ok", "reachable") for row in listed):
        raise typer.Exit(1)
