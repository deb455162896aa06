"""Templates: one TOML file per template id in a folder, every text compiled as Liquid when loaded.

A file ``<id>.toml`` holds::

    id = "<id>"            # the file name without .toml
    version = 1
    [sms]                  # the SMS text: `default`, and optional language variants (fr, sv…)
    default = "Your code is {{ code }}."
    fr = "Votre code est {{ code }}."
    [rcs]                  # optional: a text message {text, suggestions}
                           # or a rich card {title, description, media_url, suggestions}
    [mms]                  # optional: media_urls = ["https://…"]

TOML, not YAML: the standard library reads it (``tomllib``) and multi-line texts stay readable.
Opt-out footers are not part of templates: render adds the recipient country's one to marketing.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from liquid.template import BoundTemplate

from processors.render.sandbox import compile_text, render_tree

DEFAULT_DIR = Path(__file__).resolve().parent / "templates"
# The usual language of a region, used when the request names no locale.
REGION_LANGUAGE = {"FR": "fr", "MC": "fr", "SE": "sv"}
RCS_TEXT_KEYS = frozenset({"text", "suggestions"})
RCS_CARD_KEYS = frozenset({"title", "description", "media_url", "suggestions"})
SUGGESTION_TYPES = frozenset({"reply", "open_url", "dial"})


@dataclass(frozen=True)
class Content:
    """A template rendered for one message: the SMS text, the RCS section (on RCS) and the media (on MMS)."""

    sms_text: str
    rcs: dict[str, Any] | None
    media_urls: list[str]


@dataclass(frozen=True)
class Template:
    """One template id and version, compiled: SMS texts by language (``default`` always there), RCS section, MMS media."""

    id: str
    version: int
    sms: Mapping[str, BoundTemplate]
    rcs: dict[str, Any] | None
    media_urls: tuple[BoundTemplate, ...]

    def render(self, variables: Mapping[str, str], language: str | None, channel: str) -> Content:
        """Render what ``channel`` sends; ``MissingVariables`` names every variable it lacks, ``RenderFailed`` otherwise."""
        tree = {
            "sms": self.sms.get(language or "", self.sms["default"]),
            "rcs": self.rcs if channel == "RCS" else None,
            "media_urls": list(self.media_urls) if channel == "MMS" else [],
        }
        rendered = render_tree(tree, variables)
        return Content(rendered["sms"], rendered["rcs"], rendered["media_urls"])


def language_for(locale: str | None, region: str) -> str | None:
    """``fr-FR`` → ``fr``; without a locale, the region's usual language when the table knows it."""
    if locale and locale.strip():
        return locale.strip().replace("_", "-").split("-")[0].lower()
    return REGION_LANGUAGE.get(region)


def parse(path: Path) -> Template:
    """One template file; ``ValueError`` naming the file and the problem when it is not a usable template."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        if raw.get("id") != path.stem:
            raise ValueError(f"id {raw.get('id')!r} must be the file name {path.stem!r}")
        sms = raw.get("sms")
        if not isinstance(sms, dict) or not isinstance(sms.get("default"), str):
            raise ValueError("[sms] needs a `default` text")
        rcs = raw.get("rcs")
        if rcs is not None:
            _check_rcs(rcs)
        media = (raw.get("mms") or {}).get("media_urls", [])
        return Template(
            id=path.stem,
            version=int(raw.get("version", 1)),
            sms={language: compile_text(text) for language, text in sms.items()},
            rcs=_compile_tree(rcs) if rcs is not None else None,
            media_urls=tuple(compile_text(url) for url in media),
        )
    except (tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"template {path}: {exc}") from exc


def load(directory: Path = DEFAULT_DIR) -> dict[str, Template]:
    """Every ``*.toml`` template of ``directory`` by id; a missing folder is an error (a wrong setting, not an empty catalog)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no template folder at {directory}")
    return {path.stem: parse(path) for path in sorted(directory.glob("*.toml"))}


def _check_rcs(rcs: Any) -> None:
    if not isinstance(rcs, dict):
        raise ValueError("[rcs] must be a table")
    keys = set(rcs)
    if not (("text" in keys and keys <= RCS_TEXT_KEYS) or (keys & (RCS_CARD_KEYS - {"suggestions"}) and keys <= RCS_CARD_KEYS)):
        raise ValueError(f"[rcs] is a text message ({sorted(RCS_TEXT_KEYS)}) or a rich card ({sorted(RCS_CARD_KEYS)}), not {sorted(keys)}")
    for suggestion in rcs.get("suggestions", []):
        if suggestion.get("type") not in SUGGESTION_TYPES or not suggestion.get("text"):
            raise ValueError(f"an RCS suggestion needs a text and a type among {sorted(SUGGESTION_TYPES)}: {suggestion}")


def _compile_tree(node: Any) -> Any:
    """Every string of a TOML tree compiled as Liquid (errors surface at load, not at send)."""
    if isinstance(node, str):
        return compile_text(node)
    if isinstance(node, list):
        return [_compile_tree(item) for item in node]
    if isinstance(node, dict):
        return {key: _compile_tree(value) for key, value in node.items()}
    return node
