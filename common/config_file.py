"""The configuration file as pydantic-settings reads it, strictly: an unknown key, a secret written inline or a file
that is not TOML is refused whole; and validation errors as lines a person reads (file or variable, key, expectation)."""
from __future__ import annotations

import difflib
import tomllib
from pathlib import Path

from pydantic import AliasChoices, ValidationError
from pydantic_settings import BaseSettings, TomlConfigSettingsSource

from common.secret_settings import _SECRET_BY_FIELD, SECRETS, ConfigError

# Tables of the same file that are not settings: processors.providers.deployment reads them (kept here to avoid an import cycle).
DEPLOYMENT_TABLES = ("providers", "routes", "senders", "keywords", "footers", "prices")


class StrictTomlSource(TomlConfigSettingsSource):
    """The configuration file, refused whole when a key is unknown (a typo must not pass silently), a secret is written
    in it, or it is not TOML."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        try:
            super().__init__(settings_cls, toml_file=path)
        except tomllib.TOMLDecodeError as bad:
            raise ConfigError(f"{path}: not valid TOML: {bad}") from None
        except OSError as unreadable:
            raise ConfigError(f"{path}: cannot be read: {unreadable.strerror or unreadable}") from None
        # The deployment's tables (providers, routes, reference data) are read and checked by processors.providers.deployment.
        for table in DEPLOYMENT_TABLES:
            self.toml_data.pop(table, None)
        problems = [_key_problem(path, key, settings_cls) for key in self.toml_data]
        if any(problems):
            raise ConfigError("\n".join(problem for problem in problems if problem))


def _key_problem(path: Path, key: str, settings_cls: type[BaseSettings]) -> str | None:
    """Why ``key`` may not appear in the file, or None when it may."""
    for spec in SECRETS:
        if key in spec.inline_keys or key == spec.env:
            return (f"{path}: {key}: a secret is never written in the configuration file; set {spec.env} in the environment, "
                    f"or {spec.file_key} = \"/path/to/a/file\" holding it")
    known = file_keys(settings_cls)
    if key in known:
        return None
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{path}: {key}: unknown key{hint}; expected one of the settings `courrier config check` lists"


def file_keys(settings_cls: type[BaseSettings]) -> set[str]:
    """Every key a configuration file may use: each setting's name and its aliases, secrets excepted."""
    keys: set[str] = set()
    for name, field in settings_cls.model_fields.items():
        if name in _SECRET_BY_FIELD:
            continue
        keys.add(name)
        if isinstance(field.validation_alias, AliasChoices):
            keys.update(str(choice) for choice in field.validation_alias.choices)
    return keys


def readable_errors(error: ValidationError, origin: dict[str, str]) -> str:
    """A pydantic ``ValidationError`` as one line per problem: where the value came from, the key, what is expected."""
    lines = []
    for problem in error.errors(include_url=False):
        key = str(problem["loc"][0]) if problem["loc"] else "configuration"
        where = origin.get(key, "settings")
        value = problem.get("input")
        shown = f" = {value!r}" if key not in _SECRET_BY_FIELD and not isinstance(value, dict) else ""
        lines.append(f"{where}: {key}{shown}: {problem['msg'][0].lower()}{problem['msg'][1:]}")
    return "\n".join(lines)
