"""Templates: one TOML file per template id in a folder, every text compiled as Liquid when loaded.

A file ``<id>.toml`` holds::

    id = "<id>"            # the file name without .toml
    version = 1
    smart_encoding = true  # optional, default true: look-alikes become GSM-7 in the SMS text (smart_encoding.py)
    purpose = "marketing"  # optional: marketing or transactional; consent refuses a marketing template on the transactional lane
    [sms]                  # the SMS text: `default`, and optional language variants (fr, sv…)
    default = "Your code is {{ code }}."
    fr = "Votre code est {{ code }}."
    [rcs]                  # optional: a text message, a rich card or a carousel (the shapes in rcs.py)
    [mms]                  # optional: media_urls = ["https://…"]
    [sample]               # optional: variables `courrier templates validate` renders the template with

TOML, not YAML: the standard library reads it (``tomllib``) and multi-line texts stay readable.
Opt-out footers are not part of templates: render adds the recipient country's one to marketing.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from liquid.template import BoundTemplate

from processors.rules.bundled_templates import DEFAULT_DIR
from processors.rules.issues import Issue
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits, rcs_problems
from processors.rules.sandbox import compile_text, render_tree

# The usual language of a region, used when the request names no locale.
REGION_LANGUAGE = {"FR": "fr", "MC": "fr", "SE": "sv"}
TOP_KEYS = frozenset({"id", "version", "smart_encoding", "purpose", "sms", "rcs", "mms", "sample"})
PURPOSES = ("marketing", "transactional")
# language_for keeps a locale's primary subtag only, so a variant keyed `fr-FR` could never be chosen.
LANGUAGE_KEY = re.compile(r"default|[a-z]{2,3}")


class TemplateInvalid(ValueError):
    """A template file that cannot be used, with every issue found in it."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(map(str, issues)))
        self.issues = issues


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
    smart_encoding: bool = True

    def render(self, variables: Mapping[str, str], language: str | None, channel: str, *, strict: bool = True) -> Content:
        """Render what ``channel`` sends; ``MissingVariables`` names every variable it lacks (unless not ``strict``),
        ``RenderFailed`` otherwise."""
        tree = {
            "sms": self.sms.get(language or "", self.sms["default"]),
            "rcs": self.rcs if channel == "RCS" else None,
            "media_urls": list(self.media_urls) if channel == "MMS" else [],
        }
        rendered = render_tree(tree, variables, strict=strict)
        return Content(rendered["sms"], rendered["rcs"], rendered["media_urls"])


def language_for(locale: str | None, region: str) -> str | None:
    """``fr-FR`` → ``fr``; without a locale, the region's usual language when the table knows it."""
    if locale and locale.strip():
        return locale.strip().replace("_", "-").split("-")[0].lower()
    return REGION_LANGUAGE.get(region)


@dataclass(frozen=True)
class Draft:
    """A template file read as far as it goes: its TOML table, the template (``None`` when the TOML does not parse;
    texts that do not compile kept as plain strings, values of the wrong type left out) and every issue found."""

    raw: dict[str, Any] | None
    template: Template | None
    issues: list[Issue]


def draft_source(source: str, name: str, limits: RcsLimits = DEFAULT_LIMITS) -> Draft:
    """Read a template file's text (``name``: the file name without .toml), collecting every issue of shape, counts and
    Liquid syntax instead of stopping at the first."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        return Draft(None, None, [Issue("", f"TOML: {exc}")])
    issues = shape_problems(raw, name, limits)
    sms, sms_issues = _compile_tree(raw.get("sms"), "sms")
    rcs, rcs_issues = _compile_tree(raw.get("rcs"), "rcs")
    mms = raw.get("mms")
    media, media_issues = _compile_tree(mms.get("media_urls", []) if isinstance(mms, dict) else [], "mms.media_urls")
    version, smart = raw.get("version", 1), raw.get("smart_encoding", True)
    template = Template(
        id=name, version=version if isinstance(version, int) else 1,
        sms={language: text for language, text in sms.items() if _is_text(text)} if isinstance(sms, dict) else {},
        rcs=rcs, media_urls=tuple(url for url in media if _is_text(url)) if isinstance(media, list) else (),
        smart_encoding=smart if isinstance(smart, bool) else True,
    )
    return Draft(raw, template, issues + sms_issues + rcs_issues + media_issues)


def compile_source(source: str, name: str, limits: RcsLimits = DEFAULT_LIMITS) -> Template:
    """The template in a file's text; ``TemplateInvalid`` with every issue when there is any."""
    draft = draft_source(source, name, limits)
    if draft.issues or draft.template is None:
        raise TemplateInvalid(draft.issues)
    return draft.template


def parse(path: Path, limits: RcsLimits = DEFAULT_LIMITS) -> Template:
    """One template file; ``ValueError`` naming the file and every problem when it is not a usable template."""
    try:
        return compile_source(path.read_text(encoding="utf-8"), path.stem, limits)
    except (OSError, UnicodeDecodeError, TemplateInvalid) as exc:
        raise ValueError(f"template {path}: {exc}") from exc


def load(directory: Path = DEFAULT_DIR, limits: RcsLimits = DEFAULT_LIMITS) -> dict[str, Template]:
    """Every ``*.toml`` template of ``directory`` by id; a missing folder is an error (a wrong setting, not an empty catalog)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"no template folder at {directory}")
    return {path.stem: parse(path, limits) for path in sorted(directory.glob("*.toml"))}


def shape_problems(raw: Mapping[str, Any], name: str, limits: RcsLimits) -> list[Issue]:
    """Every problem of a template's TOML table that does not depend on variables: keys, types, RCS shape and counts."""
    issues = [Issue(key, f"unknown key: a template takes {', '.join(sorted(TOP_KEYS))}") for key in sorted(set(raw) - TOP_KEYS)]
    if raw.get("id") != name:
        issues.append(Issue("id", f"{raw.get('id')!r} must be the file name {name!r}"))
    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        issues.append(Issue("version", f"must be a positive integer, not {version!r}"))
    if not isinstance(raw.get("smart_encoding", True), bool):
        issues.append(Issue("smart_encoding", "must be true or false"))
    if raw.get("purpose", "marketing") not in PURPOSES:
        issues.append(Issue("purpose", f"must be one of {', '.join(PURPOSES)}"))
    issues += _sms_problems(raw.get("sms"))
    if "rcs" in raw:
        issues += rcs_problems(raw["rcs"], limits, rendered=False)
    if "mms" in raw:
        issues += _mms_problems(raw["mms"])
    if "sample" in raw and not _strings_by_name(raw["sample"]):
        issues.append(Issue("sample", "must be a table of string variables"))
    return issues


def _sms_problems(sms: Any) -> list[Issue]:
    if not isinstance(sms, dict) or not isinstance(sms.get("default"), str):
        return [Issue("sms.default", "[sms] needs a `default` text")]
    issues = [Issue(f"sms.{key}", "a language key is `default` or a language code such as fr (no region)")
              for key in sms if not LANGUAGE_KEY.fullmatch(key)]
    return issues + [Issue(f"sms.{key}", "must be a string") for key, text in sms.items() if not isinstance(text, str)]


def _mms_problems(mms: Any) -> list[Issue]:
    if not isinstance(mms, dict):
        return [Issue("mms", "must be a table")]
    issues = [Issue(f"mms.{key}", "unknown key: [mms] takes media_urls") for key in sorted(set(mms) - {"media_urls"})]
    media = mms.get("media_urls", [])
    if not isinstance(media, list) or not all(isinstance(url, str) for url in media):
        issues.append(Issue("mms.media_urls", "must be a list of URLs"))
    return issues


def _is_text(node: Any) -> bool:
    return isinstance(node, (str, BoundTemplate))


def _strings_by_name(table: Any) -> bool:
    return isinstance(table, dict) and all(isinstance(value, str) for value in table.values())


def _compile_tree(node: Any, path: str) -> tuple[Any, list[Issue]]:
    """Every string of a TOML tree compiled as Liquid, and an issue for each that does not compile (errors surface at
    load, not at send); values of other types are left for the shape checks."""
    if isinstance(node, str):
        try:
            return compile_text(node), []
        except ValueError as exc:
            return node, [Issue(path, str(exc))]
    issues: list[Issue] = []
    if isinstance(node, list):
        items = []
        for index, item in enumerate(node):
            compiled, found = _compile_tree(item, f"{path}[{index}]")
            items.append(compiled)
            issues += found
        return items, issues
    if isinstance(node, dict):
        table = {}
        for key, value in node.items():
            compiled, found = _compile_tree(value, f"{path}.{key}")
            table[key] = compiled
            issues += found
        return table, issues
    return node, []
