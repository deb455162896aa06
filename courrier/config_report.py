"""``courrier config check [FILE]``: validate a configuration file and show the effective configuration.

Every setting appears once with its value and where the value came from (``default``, ``file``, ``env VARIABLE``,
a secret's file, the state directory). Secrets never appear: a set one shows as ``********``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

from common.config import MASK, Settings, load_settings, raw_sources
from common.secret_settings import SECRETS, ConfigError, SecretMissing, SecretSpec, local_secret_path

app = typer.Typer(no_args_is_help=True, help="Check a configuration file and show the effective configuration.")

NOT_SET = "(not set)"


@dataclass(frozen=True)
class Row:
    """One setting of the effective configuration, as printed."""

    name: str
    value: str
    source: str


def config_path(file: Path | None) -> Path:
    """The file to check: ``file``, else ``$COURRIER_CONFIG``, else ``courrier.toml``; an explicit one must exist."""
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: no such file")
        return file
    return Path(os.environ.get("COURRIER_CONFIG", "courrier.toml"))


def effective(settings: Settings, path: Path) -> list[Row]:
    """Every setting of ``settings`` (read from the environment and ``path``) with its value, secrets masked."""
    sources = raw_sources(path)
    secret_fields = {spec.field: spec for spec in SECRETS}
    rows = []
    for name in Settings.model_fields:
        if name in secret_fields:
            rows.append(_secret_row(settings, secret_fields[name], sources))
        else:
            rows.append(Row(name, _shown(getattr(settings, name)), sources.get(name, "default")))
    return rows


def _secret_row(settings: Settings, spec: SecretSpec, sources: dict[str, str]) -> Row:
    """A secret's row: masked when some setting gives it (or a local part's own is used), never its value."""
    name = spec.inline_keys[-1]  # sim_token, smpp_password…: the name people know it by
    if spec.field in sources:
        return Row(name, MASK, sources[spec.field])
    if spec.file_field in sources:
        return Row(name, MASK, f"{getattr(settings, spec.file_field)} (named by {sources[spec.file_field]})")
    if getattr(settings, spec.field) is not None:  # only the webhook secret has a fallback of its own
        return Row(name, MASK, f"state dir ({local_secret_path(settings.state_dir)})")
    try:
        getattr(settings, name) if name != spec.field else settings.secret(spec.field)
    except SecretMissing:
        return Row(name, NOT_SET, f"set {spec.env} or {spec.env}_FILE")
    return Row(name, MASK, "default (the local part's own)")


def _shown(value: object) -> str:
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def render(rows: list[Row], path: Path) -> str:
    """The report: which file was read, then one aligned line per setting."""
    found = "read" if path.is_file() else "not found: defaults and environment only"
    width_name = max(len(row.name) for row in rows)
    width_value = min(max(len(row.value) for row in rows), 48)
    lines = [f"configuration file: {path} ({found})", ""]
    lines += [f"{row.name:<{width_name}}  {row.value:<{width_value}}  {row.source}" for row in rows]
    return "\n".join(lines)


@app.command()
def check(
    file: Path | None = typer.Argument(None, help="The TOML file to check (default: $COURRIER_CONFIG, else courrier.toml)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: the file and every setting's name, value and source."),
) -> None:
    """Validate the configuration file and print every setting, its value and where it came from (default, file,
    env), secrets masked. A bad file (unknown key, secret written inline, wrong type) is one line per problem naming
    the file, the key and what is expected, and exit 1."""
    from processors.providers.deployment import load_deployment, legacy_providers
    from courrier.deployment_report import credentials, reference_problems, rows as provider_rows
    from courrier.deployment_report import render as render_deployment

    path = config_path(file)
    settings = load_settings(path)
    rows = effective(settings, path)
    deployment = load_deployment(path, legacy=legacy_providers(settings))
    listed = provider_rows(deployment, settings, credentials(settings))
    problems = reference_problems(deployment) + [f"{path}: providers.{r.name}: {r.state.removeprefix('missing: ')}"
                                                for r in listed if r.state != "ok"]
    if as_json:
        typer.echo(json.dumps({"file": str(path), "found": path.is_file(), "settings": [asdict(row) for row in rows],
                               "providers": [asdict(row) for row in listed], "problems": problems}, indent=2))
    else:
        typer.echo(render(rows, path) + "\n\n" + render_deployment(deployment, listed))
    if problems:
        raise ConfigError("\n".join(problems))


@app.command()
def example(out: Path | None = typer.Option(None, "--out", help="Write the example here instead of printing it.")) -> None:
    """Print a whole configuration file to start from: providers and routes with their credentials referenced from the
    environment, and the reference data Courrier ships with (senders, keywords, footers, prices) as TOML tables."""
    from processors.config_example import write

    typer.echo(write(out))
