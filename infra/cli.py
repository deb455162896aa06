"""``courrier infra``: fetch, start, stop and inspect the local real parts."""
from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

import infra
from courrier.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Fetch, start, stop and inspect the local real parts (kafka, registry, s3, smsc).")
PARTS_HELP = "Parts to act on (default: all): " + ", ".join(infra.PARTS)


@app.command()
def up(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP)) -> None:
    """Fetch what is missing and start every part that is not already running (external parts are left alone)."""
    console = Console()
    with console.status("starting…") as status:
        started = infra.ensure_running(get_settings(), parts or infra.PARTS, progress=lambda line: status.update(line))
    console.print(f"started: {', '.join(started) or 'nothing (already running or external)'}")
    _print_status(console)


@app.command()
def down(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP)) -> None:
    """Stop local parts started by `up` (SIGTERM, then SIGKILL after 20 s)."""
    stopped = infra.stop(get_settings(), parts or infra.PARTS)
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Show each part: running, stopped or external, with its address, pid and log."""
    _print_status(Console())


@app.command()
def fetch(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP)) -> None:
    """Download the jars and binaries the local parts need (cached in the state directory and ~/.m2)."""
    console = Console()
    with console.status("fetching…") as spinner:
        infra.fetch(get_settings(), parts or infra.PARTS, progress=lambda line: spinner.update(line))
    console.print(f"fetched into {get_settings().state_dir}")


def _print_status(console: Console) -> None:
    table = Table()
    for column in ("part", "state", "address", "pid", "log"):
        table.add_column(column)
    for part in infra.status(get_settings()):
        table.add_row(part.name, part.state, part.address, str(part.pid or "-"), str(part.log or "-"))
    console.print(table)
