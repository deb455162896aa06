"""Pure rules of the template store: version records, which version a request gets, and diffs. Every stage that
takes a template by id reads them here (consent, render, the intake), so none imports the store's folder.

The ``templates`` topic is compacted and keyed ``<template id>@<version>``: every version stays (history is
the set of keys of an id), and a version's row is replaced only to publish it (same content, status
``PUBLISHED``, who and when). The latest published version of an id is the highest published version
number, found by reading the id's rows (``TemplateIndex``), so there is no second pointer record that could
disagree with the versions. A version is numbered by the store (one more than the id's highest); a
``version`` key inside the TOML text is ignored.
"""
from __future__ import annotations

import difflib
import logging
import re
import threading
import tomllib
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from processors.rules.issues import Issue
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.runtime.stage import Event

if TYPE_CHECKING:
    from processors.rules.templates import Template

log = logging.getLogger(__name__)

TOPIC = "templates"
DRAFT, PUBLISHED = "DRAFT", "PUBLISHED"
# The intake's template id pattern (processors/intake/models.py): an id the API could never name is refused at push.
TEMPLATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def version_key(template_id: str, version: int) -> str:
    """The topic key of one version: ``otp@3``."""
    return f"{template_id}@{version}"


def parse_key(key: str) -> tuple[str, int] | None:
    """``otp@3`` → ``("otp", 3)``; None for a key that is not a version's."""
    template_id, _, number = key.rpartition("@")
    return (template_id, int(number)) if TEMPLATE_ID.fullmatch(template_id) and number.isdigit() and int(number) > 0 else None


@dataclass(frozen=True)
class Refused:
    """Why a request's template cannot be used: a receipt reason and a sentence."""

    reason: str
    detail: str


def new_version(existing: Mapping[int, Event], template_id: str, source: str, author: str, now: datetime,
                note: str | None = None, *, publish: bool = False) -> Event:
    """The record of ``source`` as the next version of ``template_id`` (a draft unless ``publish``)."""
    version = max(existing, default=0) + 1
    return {"template_id": template_id, "version": version, "status": PUBLISHED if publish else DRAFT, "source": source,
            "note": note, "created_by": author, "created_at": now,
            "published_by": author if publish else None, "published_at": now if publish else None}


def published(record: Event, who: str, now: datetime) -> Event:
    """The same version, published by ``who`` at ``now`` (a version already published is returned unchanged)."""
    if record["status"] == PUBLISHED:
        return record
    return {**record, "status": PUBLISHED, "published_by": who, "published_at": now}


def template_id_of(source: str) -> str | Issue:
    """The ``id`` a template's TOML text declares, or the issue saying why it has none usable."""
    try:
        declared = tomllib.loads(source).get("id")
    except tomllib.TOMLDecodeError as exc:
        return Issue("", f"TOML: {exc}")
    if not isinstance(declared, str) or not TEMPLATE_ID.fullmatch(declared):
        return Issue("id", f"{declared!r} is not a template id: 1 to 64 of A-Z a-z 0-9 _ -, starting with a letter or digit")
    return declared


def declared_purpose(source: str) -> str:
    """The ``purpose`` a template's TOML text declares, "" when none (or when the text does not parse)."""
    try:
        purpose = tomllib.loads(source).get("purpose", "")
    except tomllib.TOMLDecodeError:
        return ""
    return purpose if isinstance(purpose, str) else ""


class MarketingIds(Container[object]):
    """The ids whose latest published version declares ``purpose = "marketing"``, and the ``(id, version)`` pairs of
    every version that declares it, live from ``index`` (consent keeps them off the transactional lane, as
    ``processors.rules.purposes`` does for a folder of files)."""

    def __init__(self, index: "TemplateIndex") -> None:
        self._index = index

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return self._index.purpose(item) == "marketing"
        if isinstance(item, tuple) and len(item) == 2:
            return self._index.version_purpose(*item) == "marketing"
        return False


def source_diff(template_id: str, a: Event, b: Event) -> str:
    """A unified diff of two versions' TOML texts, labelled ``otp@1`` and ``otp@2``; empty when they are the same."""
    lines = difflib.unified_diff(a["source"].splitlines(keepends=True), b["source"].splitlines(keepends=True),
                                 version_key(template_id, a["version"]), version_key(template_id, b["version"]))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class TemplateIndex(Mapping[str, "Template"]):
    """Every version of every template, compiled, fed row by row (``take``); as a mapping: id → latest published.

    A row whose text no longer compiles (rules tightened since it was pushed) is kept in the history but cannot be
    sent: it is logged once and left out of what ``resolve`` can return.

    ``compile=False`` keeps the rows and their purposes only (what consent asks, ``purpose``), without loading the
    template engine (about 17 MB a process); such an index resolves nothing."""

    def __init__(self, limits: RcsLimits = DEFAULT_LIMITS, *, compile: bool = True) -> None:
        self._limits = limits
        self._compiles = compile
        # take runs on a table's thread and on the HTTP writer's; readers copy under the lock, never iterate live dicts.
        self._lock = threading.RLock()
        self._rows: dict[str, dict[int, Event]] = {}
        self._compiled: dict[tuple[str, int], Template] = {}
        self._latest: dict[str, Template] = {}
        self._purposes: dict[tuple[str, int], str] = {}  # the `purpose` a version declares (marketing, transactional)
        self._latest_purpose: dict[str, str] = {}

    def take(self, key: str, row: Event | None) -> None:
        """Apply one row of the topic (None: a tombstone removes that version)."""
        parsed = parse_key(key)
        if parsed is None:
            log.warning("templates: a key that is not <id>@<version> ignored", extra={"key": key})
            return
        template_id, version = parsed
        with self._lock:
            self._apply(template_id, version, row)

    def _apply(self, template_id: str, version: int, row: Event | None) -> None:
        parsed = (template_id, version)
        versions = self._rows.setdefault(template_id, {})
        self._compiled.pop(parsed, None)
        self._purposes.pop(parsed, None)
        if row is None:
            versions.pop(version, None)
        else:
            versions[version] = row
            self._purposes[parsed] = declared_purpose(row["source"])
            if self._compiles:
                self._compile(template_id, version, row)
        if not versions:
            del self._rows[template_id]
        self._refresh(template_id)

    def _compile(self, template_id: str, version: int, row: Event) -> None:
        # Imported here: the template engine is loaded by the processes that compile (render, intake), not by consent.
        from processors.rules.templates import TemplateInvalid, compile_source

        try:
            compiled = compile_source(row["source"], template_id, self._limits)
            self._compiled[(template_id, version)] = replace(compiled, version=version)
        except TemplateInvalid as exc:
            log.warning("templates: a stored version does not compile and cannot be sent",
                        extra={"template": version_key(template_id, version), "error": str(exc)})

    def _refresh(self, template_id: str) -> None:
        versions = self._rows.get(template_id, {})
        live = [v for v, row in versions.items()
                if row["status"] == PUBLISHED and (not self._compiles or (template_id, v) in self._compiled)]
        if live:
            if self._compiles:
                self._latest[template_id] = self._compiled[(template_id, max(live))]
            self._latest_purpose[template_id] = self._purposes.get((template_id, max(live)), "")
        else:
            self._latest.pop(template_id, None)
            self._latest_purpose.pop(template_id, None)

    def versions(self, template_id: str) -> dict[int, Event]:
        """Every stored version of ``template_id`` by number (empty when the id is unknown)."""
        with self._lock:
            return dict(sorted(self._rows.get(template_id, {}).items()))

    def purpose(self, template_id: str) -> str | None:
        """The ``purpose`` the latest published version declares (``marketing``, ``transactional``, "" for none)."""
        return self._latest_purpose.get(template_id)

    def version_purpose(self, template_id: str, version: int) -> str | None:
        """The ``purpose`` version ``version`` of ``template_id`` declares, None when there is no such version."""
        return self._purposes.get((template_id, version))

    def ids(self) -> list[str]:
        """Every template id with at least one version, drafts included."""
        with self._lock:
            return sorted(self._rows)

    def resolve(self, template_id: str, version: int | None) -> Template | Refused:
        """The template a request gets: the version it names (never a draft), else the latest published."""
        if not self._compiles:
            raise TypeError("this template index keeps purposes only (compile=False): it resolves no template")
        with self._lock:
            versions = dict(self._rows.get(template_id, {}))
            latest, compiled = self._latest.get(template_id), self._compiled.get((template_id, version or 0))
        if not versions:
            return Refused("unknown_template", f"no template {template_id!r}")
        if version is None:
            return latest or Refused("unknown_template", f"template {template_id!r} has no published version "
                                                         f"(versions {', '.join(map(str, sorted(versions)))} are drafts)")
        row = versions.get(version)
        if row is None:
            return Refused("unknown_template_version", f"template {template_id!r} has no version {version} "
                                                       f"(it has {', '.join(map(str, sorted(versions)))})")
        if row["status"] != PUBLISHED:
            return Refused("template_version_draft", f"template {template_id!r} version {version} is a draft: publish it "
                                                     f"before sending it (`courrier templates publish {template_id} {version}`)")
        return compiled or Refused("render_failed", f"template {template_id!r} version {version} no longer compiles")

    # --- the Mapping: id → latest published template
    def __getitem__(self, template_id: str) -> Template:
        return self._latest[template_id]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._latest))

    def __len__(self) -> int:
        return len(self._latest)


def resolve(templates: Mapping[str, Template], template_id: str, version: int | None) -> Template | Refused:
    """A request's template from a store index (``TemplateIndex.resolve``) or from a plain id → template mapping (a
    folder of files: one version per id, always sendable)."""
    if isinstance(templates, TemplateIndex):
        return templates.resolve(template_id, version)
    found = templates.get(template_id)
    if found is None:
        return Refused("unknown_template", f"no template {template_id!r}; known: {', '.join(sorted(templates)) or 'none'}")
    if version is not None and version != found.version:
        return Refused("unknown_template_version", f"template {template_id!r} has no version {version} (it has {found.version})")
    return found
