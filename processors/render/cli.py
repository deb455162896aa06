"""``courrier templates``: check a folder of template files before the render stage loads them."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from processors.rules.issues import Issue
from processors.render.logic import MAX_SMS_SEGMENTS
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.render.validate import validate_source
from processors.templates_store.cli import add_commands

HELP = ("The template store (seed, push, list, show, diff, publish: processors/templates_store) and checks of template "
        "files (validate: RCS limits, Liquid syntax, SMS segments with sample variables).")
app = typer.Typer(no_args_is_help=True, help=HELP)


@app.callback()
def templates() -> None:
    """The template store (seed, push, list, show, diff, publish) and checks of template files (validate)."""


@app.command()
def validate(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, dir_okay=True, help="Folder of <id>.toml template files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object {templates, errors: [{file, path, message}]}."),
    rcs_text_max: int = typer.Option(DEFAULT_LIMITS.text, min=1, help="Longest RCS text message, in characters."),
    max_segments: int = typer.Option(MAX_SMS_SEGMENTS, min=1, help="Most SMS segments a text may render to."),
) -> None:
    """Every error of every template in DIRECTORY, one line each (file: path: message); exit 1 when there is any."""
    limits = RcsLimits(text=rcs_text_max)
    files = sorted(directory.glob("*.toml"))
    errors = [(path.name, issue) for path in files for issue in _issues(path, limits, max_segments)]
    if as_json:
        typer.echo(json.dumps({"templates": len(files), "errors": [
            {"file": name, "path": issue.path, "message": issue.message} for name, issue in errors]}, ensure_ascii=False))
    else:
        for name, issue in errors:
            typer.echo(f"{name}: {issue}")
        typer.echo(f"{len(files)} templates, {len(errors)} errors", err=True)
    raise typer.Exit(1 if errors else 0)


def _issues(path: Path, limits: RcsLimits, max_segments: int) -> list[Issue]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Issue("", f"cannot read: {exc}")]
    return validate_source(path.stem, source, limits, max_segments)


add_commands(app)
