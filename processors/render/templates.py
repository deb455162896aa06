"""Templates as versioned TOML files: SMS text per language and the RCS content, all Liquid, compiled once.

Liquid runs sandboxed (no code execution exists in the language) with python-liquid's resource
limits on, and strict about undefined variables unless a ``default`` filter gives one.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from liquid import Environment
from liquid.exceptions import LiquidError, UndefinedError
from liquid.template import BoundTemplate
from liquid.undefined import StrictDefaultUndefined

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
# A language per region when the request names no locale; others get the template's default text.
REGION_LANGUAGE = {"FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr", "SE": "sv", "FI": "sv"}
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


class SandboxedLiquid(Environment):
    """Liquid with resource limits: bounded loops, output, nesting and context depth."""

    loop_iteration_limit = 1_000
    output_stream_limit = 20_000
    context_depth_limit = 30
    local_namespace_limit = 10_000


ENV = SandboxedLiquid(undefined=StrictDefaultUndefined)


class MissingVariables(Exception):
    """The variables a template needs that the request did not give."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


@dataclass(frozen=True)
class Template:
    """One template id and version: SMS texts by language (``default`` always present) and an optional RCS section."""

    id: str
    version: int
    sms: dict[str, BoundTemplate]
    rcs: dict[str, Any] | None

    def sms_text(self, variables: Mapping[str, str], language: str | None) -> str:
        source = self.sms.get(language or "") or self.sms["default"]
        return render(source, variables)

    def rcs_json(self, variables: Mapping[str, str]) -> str | None:
        """The RCS agent message as JSON: a text message or a rich card, with its suggestions, every string rendered."""
        if self.rcs is None:
            return None
        return json.dumps(_render_tree(self.rcs, variables), ensure_ascii=False, separators=(",", ":"))


def render(template: BoundTemplate, variables: Mapping[str, str]) -> str:
    """Render, naming every missing variable at once (not just the first) when some are missing."""
    given = dict(variables)
    missing: list[str] = []
    for _ in range(len(template.global_variables()) + 1):
        try:
            text = template.render(**given)
        except UndefinedError as exc:
            match = _UNDEFINED_NAME.search(str(exc))
            name = match.group(1) if match else str(exc)
            if name in given:  # an undefined *inside* a given value (e.g. a missing key): report it, do not loop
                raise
            missing.append(name)
            given[name] = ""
            continue
        if missing:
            raise MissingVariables(missing)
        return text
    raise MissingVariables(missing)


def _compile_tree(node: Any) -> Any:
    """Every string of a TOML tree compiled as Liquid (syntax errors surface at load, not at send)."""
    if isinstance(node, str):
        return ENV.from_string(node)
    if isinstance(node, list):
        return [_compile_tree(item) for item in node]
    if isinstance(node, dict):
        return {key: _compile_tree(value) for key, value in node.items()}
    return node


def _render_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, BoundTemplate):
        return render(node, variables)
    if isinstance(node, list):
        return [_render_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _render_tree(value, variables) for key, value in node.items()}
    return node


def parse(path: Path) -> Template:
    """One template file; ``ValueError`` naming the file and the problem when it is not a usable template."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        sms = raw["sms"]
        if "default" not in sms:
            raise ValueError("[sms] needs a `default` text")
        compiled = {language: ENV.from_string(text) for language, text in sms.items()}
        rcs = _compile_tree(raw["rcs"]) if raw.get("rcs") is not None else None
        return Template(str(raw["id"]), int(raw.get("version", 1)), compiled, rcs)
    except (tomllib.TOMLDecodeError, KeyError, LiquidError, ValueError) as exc:
        raise ValueError(f"{path}: {exc.__class__.__name__}: {exc}") from exc


def load(directory: Path = DEFAULT_DIR) -> dict[str, Template]:
    """Every ``*.toml`` template in ``directory`` by id."""
    templates = [parse(path) for path in sorted(directory.glob("*.toml"))]
    return {t.id: t for t in templates}


def language_for(locale: str | None, region: str) -> str | None:
    """``fr-FR`` → ``fr``; without a locale, the region's usual language if the table knows it."""
    if locale:
        return locale.replace("_", "-").split("-")[0].lower()
    return REGION_LANGUAGE.get(region)
