"""``courrier rcs check FILE [--out FILE]``: the RCS capability of a list of numbers, in bulk, as ``number,capable`` lines."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from common import logs
from common.config import get_settings
from common.errors import CourrierError
from processors.providers.rbm.capability import MAX_BATCH, CapabilityClient, static_bearer

app = typer.Typer(no_args_is_help=True, help="RCS capability of phone numbers, from the RBM API at COURRIER_RBM_URL.")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class NoRbmApi(CourrierError):
    """No RBM API is configured."""


@app.command()
def check(
    file: str = typer.Argument(..., help="Numbers in E.164, one per line ('-' for stdin); blank lines and # comments are skipped."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the CSV to this file (written whole or not at all) instead of stdout."),
    chunk: int = typer.Option(MAX_BATCH, min=1, max=MAX_BATCH, help="Numbers per users:batchGet call."),
) -> None:
    """Test every number in bulk (users:batchGet) and write `number,capable` lines (true/false) in input order."""
    settings = get_settings()
    logs.configure("ERROR")  # the client's "API not answering" warning would be a second line before the error
    if not settings.rbm_url:
        raise NoRbmApi("no RBM API configured: set COURRIER_RBM_URL (the local simulator is "
                       f"{settings.sim_address} after `courrier infra up sim`)")
    numbers = _read(file)
    client = CapabilityClient(settings.rbm_url, static_bearer(settings.sim_token), max_entries=max(len(numbers), 1),
                              timeout_s=settings.rcs_capability_timeout_s)
    unique = list(dict.fromkeys(numbers))
    console = Console(stderr=True)
    try:
        # A bar on a terminal only: redirected, it would leave a blank line before a one-line error.
        with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("numbers", total=len(unique))
            for start in range(0, len(unique), chunk):
                client.batch(unique[start:start + chunk])
                progress.advance(task, len(unique[start:start + chunk]))
    finally:
        client.close()
    lines = ["number,capable"] + [f"{n},{'true' if client.cached(n) else 'false'}" for n in numbers]
    if out is None:
        typer.echo("\n".join(lines))
        return
    partial = out.with_name(out.name + ".part")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(out)
    capable = sum(1 for n in unique if client.cached(n))
    console.print(f"{len(unique)} numbers checked, {capable} RCS-capable → {out}", highlight=False)


def _read(file: str) -> list[str]:
    """Every number of the file, checked: the first line that is not E.164 is a one-line error naming it."""
    try:
        stream: TextIO = sys.stdin if file == "-" else open(file, encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from None
    numbers: list[str] = []
    bad: list[tuple[int, str]] = []
    with stream:
        for line_number, line in enumerate(stream, start=1):
            value = line.strip()
            if not value or value.startswith("#"):
                continue
            if E164.match(value):
                numbers.append(value)
            else:
                bad.append((line_number, value))
    if bad:
        (line_number, value), more = bad[0], len(bad) - 1
        others = f" (and {more} more line{'s' if more > 1 else ''})" if more else ""
        raise typer.BadParameter(f"line {line_number}: {value[:40]!r} is not an E.164 number like +33612345678{others}",
                                 param_hint="FILE")
    return numbers
