"""The keyword book: ``data/keywords.json`` read, folded and checked once, so matching is plain dictionary look-ups.

The file's ``_doc`` explains its shape and the rules (which languages apply to which kind, why French OUI
is not an opt-in). Loading refuses, naming every problem, a word that means two things, a group that is
not declared, a pattern that does not compile or a missing ``default`` sender.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from processors.keywords.text import compact

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "keywords.json"
KINDS = ("opt_out", "opt_in", "help")
DEFAULT_LANGUAGE = "default"
DEFAULT_SENDER = "default"


@dataclass(frozen=True)
class Word:
    """A keyword as matched: its kind, its folded form, the language table it comes from (``default`` or a code)
    and, for a group's own keyword, the only subscription group it applies to."""

    kind: str
    folded: str
    language: str
    group: str | None = None


@dataclass(frozen=True)
class Sender:
    """One of our sender ids: the brand replies speak for, where help lives, the groups an unqualified keyword applies
    to, and its own keywords (folded form → word)."""

    brand: str
    help: str
    groups: tuple[str, ...]
    words: Mapping[str, Word]


@dataclass(frozen=True)
class KeywordBook:
    """Everything the keyword logic consults: standard words per language, fuzzy patterns, senders and group words."""

    languages: Mapping[str, Mapping[str, Word]]
    fuzzy: Mapping[str, tuple[re.Pattern[str], ...]]
    region_languages: Mapping[str, tuple[str, ...]]
    senders: Mapping[str, Sender]
    group_words: Mapping[str, Mapping[str, Word]]
    reply_validity_seconds: int

    def sender(self, sender_id: str) -> Sender:
        """The entry of ``sender_id``, or the ``default`` one for a sender the file does not list; a response the entry
        does not set yet (brand, help) is the ``default`` one's, so a keyword is always answered."""
        found = self.senders.get(sender_id)
        fallback = self.senders[DEFAULT_SENDER]
        if found is None:
            return fallback
        return replace(found, brand=found.brand or fallback.brand, help=found.help or fallback.help)


class BookInvalid(ValueError):
    """A keyword file that cannot be used, with every problem found in it."""


def load(path: Path = DEFAULT_PATH) -> KeywordBook:
    """The keyword book of ``path``; ``BookInvalid`` naming the file and every problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BookInvalid(f"keywords {path}: {exc}") from exc
    return from_mapping(raw, f"keywords {path}")


def from_mapping(raw: Any, where: str = "keywords") -> KeywordBook:
    """The keyword book of a table already read (the configuration file's ``[keywords]``); ``BookInvalid`` naming
    ``where`` and every problem."""
    problems: list[str] = []
    book = _build(raw if isinstance(raw, dict) else {}, problems)
    if not isinstance(raw, dict):
        problems.insert(0, "the file must hold one JSON object")
    if problems:
        raise BookInvalid(f"{where}: " + "; ".join(problems))
    return book


def _build(raw: Mapping[str, Any], problems: list[str]) -> KeywordBook:
    kinds_of: dict[str, set[str]] = {}
    languages = {language: _words(table, language, None, f"keywords.{language}", problems, kinds_of)
                 for language, table in _table(raw, "keywords", problems).items()}
    if DEFAULT_LANGUAGE not in languages:
        problems.append(f"keywords needs a {DEFAULT_LANGUAGE!r} table")
    standard = {folded for table in languages.values() for folded in table}
    groups = {group: _words(table, DEFAULT_LANGUAGE, group, f"groups.{group}", problems, kinds_of, standard)
              for group, table in _table(raw, "groups", problems).items()}
    taken = standard | {folded for table in groups.values() for folded in table}
    senders = {sender_id: _sender(entry, f"senders.{sender_id}", groups, taken, problems, kinds_of)
               for sender_id, entry in _table(raw, "senders", problems).items()}
    if DEFAULT_SENDER not in senders:
        problems.append(f"senders needs a {DEFAULT_SENDER!r} entry for senders it does not list")
    problems.extend(f"{folded!r} is both {' and '.join(sorted(kinds))}" for folded, kinds in kinds_of.items() if len(kinds) > 1)
    validity = raw.get("reply_validity_seconds", 86400)
    if not isinstance(validity, int) or isinstance(validity, bool) or validity < 1:
        problems.append(f"reply_validity_seconds must be a positive integer, not {validity!r}")
    return KeywordBook(
        languages=languages,
        fuzzy={language: _patterns(patterns, f"fuzzy_opt_out.{language}", problems)
               for language, patterns in _table(raw, "fuzzy_opt_out", problems).items()},
        region_languages={region.upper(): tuple(codes) for region, codes in _table(raw, "region_languages", problems).items()
                          if _strings(codes, f"region_languages.{region}", problems)},
        senders=senders,
        group_words=groups,
        reply_validity_seconds=validity if isinstance(validity, int) else 86400,
    )


def _table(raw: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{key} must be an object")
        return {}
    return value


def _strings(value: Any, where: str, problems: list[str]) -> bool:
    if isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value):
        return True
    problems.append(f"{where} must be a list of non-empty strings")
    return False


def _words(table: Any, language: str, group: str | None, where: str, problems: list[str],
           kinds_of: dict[str, set[str]], reserved: frozenset[str] | set[str] = frozenset()) -> dict[str, Word]:
    """Folded word → ``Word`` for one ``{kind: [words]}`` table; notes each word's kind to find words with two meanings."""
    if not isinstance(table, dict):
        problems.append(f"{where} must be an object of {', '.join(KINDS)}")
        return {}
    words: dict[str, Word] = {}
    for kind, listed in table.items():
        if kind not in KINDS:
            problems.append(f"{where}.{kind}: unknown kind, choose one of {', '.join(KINDS)}")
            continue
        if not _strings(listed, f"{where}.{kind}", problems):
            continue
        for text in listed:
            folded = compact(text)
            if not folded:
                problems.append(f"{where}.{kind}: {text!r} has no letters or digits")
                continue
            if folded in reserved:
                problems.append(f"{where}.{kind}: {text!r} is already a standard or group keyword")
                continue
            if group is not None and folded in kinds_of and folded not in words:
                problems.append(f"{where}.{kind}: {text!r} is already a custom keyword elsewhere")
                continue
            kinds_of.setdefault(folded, set()).add(kind)
            words[folded] = Word(kind, folded, language, group)
    return words


def _sender(entry: Any, where: str, groups: Mapping[str, Any], taken: set[str], problems: list[str],
            kinds_of: dict[str, set[str]]) -> Sender:
    """One sender entry; its own keywords may not reuse a standard or a group keyword (``taken``)."""
    if not isinstance(entry, dict):
        problems.append(f"{where} must be an object")
        return Sender("", "", (), {})
    unknown_keys = sorted(set(entry) - {"brand", "help", "groups", "keywords"})
    problems.extend(f"{where}.{key}: unknown key" for key in unknown_keys)
    for key in ("brand", "help"):  # absent: the response is not written yet (``completeness`` keeps it from sending)
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            problems.append(f"{where}.{key} must be a non-empty string")
    listed = entry.get("groups", [])
    listed = listed if _strings(listed, f"{where}.groups", problems) else []
    problems.extend(f"{where}.groups: {group!r} is not declared in groups" for group in listed if group not in groups)
    own = _words(entry.get("keywords", {}), DEFAULT_LANGUAGE, None, f"{where}.keywords", problems, kinds_of, taken)
    return Sender(str(entry.get("brand", "")), str(entry.get("help", "")), tuple(listed), own)


def _patterns(patterns: Any, where: str, problems: list[str]) -> tuple[re.Pattern[str], ...]:
    if not _strings(patterns, where, problems):
        return ()
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            problems.append(f"{where}: {pattern!r} does not compile: {exc}")
    return tuple(compiled)
