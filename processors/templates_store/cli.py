"""``courrier templates seed|push|list|show|diff|publish|validate``: the template store from a terminal, and checks
of template files before anything loads them.

Each store command reads the ``templates`` topic to its end now (a snapshot), then writes at most one record and
returns once the broker acknowledged it. Kafka clients load only when a command runs.
"""
from __future__ import annotations

import getpass
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from common.config import get_settings
from processors.render.logic import MAX_SMS_SEGMENTS
from processors.render.validate import validate_source
from processors.rules.issues import Issue
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.rules.template_versions import TOPIC, TemplateIndex, version_key

HELP = ("The template store (seed, push, list, show, diff, publish: processors/templates_store) and checks of template "
        "files (validate: RCS limits, Liquid syntax, SMS segments with sample variables).")
app = typer.Typer(no_args_is_help=True, help=HELP)


@app.callback()
def templates() -> None:
    """The template store (seed, push, list, show, diff, publish) and checks of template files (validate)."""


def _index() -> TemplateIndex:
    from processors.access.store import require_topics
    from processors.runtime.snapshot import snapshot

    settings = get_settings()
    require_topics(settings, (TOPIC,))
    index = TemplateIndex()
    for key, row in snapshot(settings, TOPIC).items():
        index.take(key, row)
    return index


def _write(outputs: list) -> None:
    from processors.runtime.publisher import write_now

    write_now(get_settings(), outputs)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "operator"


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@app.command()
def seed(directory: Optional[Path] = typer.Option(None, "--dir", exists=True, file_okay=False,
                                                  help="Folder of <id>.toml files (default: templates_dir, else the bundled ones).")) -> None:
    """Publish, as version 1, every template of the folder whose id the store does not hold yet."""
    from processors.rules.templates import DEFAULT_DIR
    from processors.templates_store.catalog import seed as seeded

    folder = Path(directory or get_settings().templates_dir or DEFAULT_DIR)
    ids = seeded(get_settings(), folder)
    typer.echo(f"seeded {len(ids)} templates from {folder}" + (f": {', '.join(ids)}" if ids else ""))

@app.command()
def push(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A template's TOML file (its `id` names the template)."),
         note: Optional[str] = typer.Option(None, "--note", help="What changed in this version."),
         publish_now: bool = typer.Option(False, "--publish", help="Publish the new version at once (else it is a draft)."),
         author: Optional[str] = typer.Option(None, "--author", help="Who pushes it (default: the login name).")) -> None:
    """Store FILE as its template's next version; every rule it breaks is printed and nothing is stored."""
    from processors.templates_store.changes import push as pushed

    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read {file}: {exc}") from None
    outcome = pushed(_index(), source, author or _login(), datetime.now(timezone.utc), note, publish=publish_now)
    if isinstance(outcome, list):
        for issue in outcome:
            typer.echo(f"{file.name}: {issue}", err=True)
        raise _fail(f"{file.name} not stored: {len(outcome)} issue(s)")
    _write([outcome])
    typer.echo(f"stored {outcome.key} ({outcome.value['status'].lower()})")

@app.command("list")
def list_templates(as_json: bool = typer.Option(False, "--json", help="One JSON object per template, one per line.")) -> None:
    """Every template: its latest version, its latest published version, who changed it last and when."""
    index = _index()
    for template_id in index.ids():
        versions = index.versions(template_id)
        last = versions[max(versions)]
        live = max((v for v, row in versions.items() if row["status"] == "PUBLISHED"), default=None)
        if as_json:
            typer.echo(json.dumps({"template_id": template_id, "latest": last["version"], "published": live,
                                   "changed_by": last["created_by"], "changed_at": last["created_at"].isoformat()}))
        else:
            typer.echo(f"{template_id}  latest v{last['version']}  published {f'v{live}' if live else '-'}  "
                       f"by {last['created_by']} {_when(last['created_at'])}")

@app.command()
def show(template_id: str = typer.Argument(..., help="The template id."),
         version: Optional[int] = typer.Option(None, "--version", min=1, help="One version's text (default: the history)."),
         ) -> None:
    """A template's history (version, status, who, when, note), or one version's TOML text with --version."""
    versions = _index().versions(template_id)
    if not versions:
        raise _fail(f"no template {template_id!r} in the store")
    if version is not None:
        if version not in versions:
            raise _fail(f"template {template_id!r} has no version {version} (it has {', '.join(map(str, versions))})")
        typer.echo(versions[version]["source"], nl=False)
        return
    for number, row in versions.items():
        typer.echo(f"v{number}  {row['status'].lower():9}  by {row['created_by']} {_when(row['created_at'])}"
                   + (f"  published by {row['published_by']} {_when(row['published_at'])}" if row["published_at"] else "")
                   + (f"  — {row['note']}" if row["note"] else ""))

@app.command()
def diff(template_id: str = typer.Argument(..., help="The template id."),
         a: int = typer.Argument(..., min=1, help="The older version."),
         b: int = typer.Argument(..., min=1, help="The newer version.")) -> None:
    """A unified diff of two versions' TOML texts."""
    from processors.rules.template_versions import source_diff

    versions = _index().versions(template_id)
    missing = [v for v in (a, b) if v not in versions]
    if missing:
        raise _fail(f"template {template_id!r} has no version {missing[0]}" + (f" (it has {', '.join(map(str, versions))})" if versions else ""))
    typer.echo(source_diff(template_id, versions[a], versions[b]) or f"{version_key(template_id, a)} and "
               f"{version_key(template_id, b)} have the same text\n", nl=False)

@app.command("publish")
def publish_version(template_id: str = typer.Argument(..., help="The template id."),
                    version: int = typer.Argument(..., min=1, help="The version to publish."),
                    author: Optional[str] = typer.Option(None, "--author", help="Who publishes it (default: the login name).")) -> None:
    """Make VERSION the one sent to requests naming no version (the highest published version is)."""
    from processors.templates_store.changes import publish
    from processors.rules.template_versions import Refused

    outcome = publish(_index(), template_id, version, author or _login(), datetime.now(timezone.utc))
    if isinstance(outcome, Refused):
        raise _fail(outcome.detail)
    _write([outcome])
    typer.echo(f"published {outcome.key}")


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
