"""``courrier infra``: fetch, start, stop and inspect the local real parts; failures end in one line and exit code 1."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from common.config import get_settings
from common.errors import CourrierError
import infra

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Fetch, start, stop and inspect the local real parts (kafka, registry, s3, smsc, sim).")
PARTS_HELP = "Parts to act on (default: all): " + ", ".join(infra.PARTS) + "."


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except CourrierError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


@app.command()
def up(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP, show_default=False)) -> None:
    """Fetch what is missing, reuse what already answers, start the rest and wait until each is ready."""
    console = Console()
    settings = get_settings()
    with _one_line_errors(), console.status("checking the parts…") as spinner:
        started = infra.ensure_running(settings, parts or infra.PARTS, progress=spinner.update)
    chosen = set(parts or infra.PARTS)
    for part in infra.status(settings):
        if part.name in chosen:
            how = "started" if part.name in started else ("external" if part.state == "external" else "reused")
            console.print(f"[green]✓[/] {part.name:<8} {how:<8} {part.address}")


@app.command()
def down(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP, show_default=False)) -> None:
    """Stop the local parts `up` started from this state directory (SIGTERM, then SIGKILL after 20 s)."""
    with _one_line_errors():
        stopped = infra.stop(get_settings(), parts or infra.PARTS)
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing (none of them was running from this state directory)'}")


@app.command()
def status() -> None:
    """Show each part: running, stopped or external, with its address, pid and log file."""
    table = Table()
    for column in ("part", "state", "address", "pid", "log"):
        table.add_column(column, overflow="fold")
    colours = {"running": "green", "stopped": "red", "external": "cyan"}
    for part in infra.status(get_settings()):
        table.add_row(part.name, f"[{colours[part.state]}]{part.state}[/]", part.address, str(part.pid or "-"), str(part.log or "-"))
    Console().print(table)


@app.command()
def fetch(parts: Optional[List[str]] = typer.Argument(None, help=PARTS_HELP + " Also `chromium`: headless Chromium for the report "
                                                    "page test (Debian's package, apt-get; never part of the default).",
                                                    show_default=False)) -> None:
    """Download the jars and the registry the local parts need (cached in the state directory and ~/.m2)."""
    from infra import chromium

    console = Console()
    settings = get_settings()
    wanted = parts or list(infra.PARTS)
    with _one_line_errors(), console.status("checking what is fetched…") as spinner:
        infra.fetch(settings, [part for part in wanted if part != "chromium"], progress=spinner.update)
        if "chromium" in wanted:
            spinner.update(f"installing chromium ({' '.join(chromium.INSTALL)})…")
            console.print(f"[green]✓[/] chromium at {chromium.ensure()}")
    console.print(f"[green]✓[/] fetched into {settings.state_dir}")


if __name__ == "__main__":
    app()
