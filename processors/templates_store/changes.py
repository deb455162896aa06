"""What a push or a publish writes to the store, decided from what the store holds now (pure: no broker).

A push is checked with the rules of ``courrier templates validate`` (``processors.render.validate``): an
invalid template is refused with every issue, each naming its field, and nothing is written. Two pushes of
one id racing from two processes could both take the same next number (the later overwrites the earlier
draft); the HTTP service serialises its own pushes, and operators push one at a time.
"""
from __future__ import annotations

from datetime import datetime

from processors.rules.issues import Issue
from processors.render.logic import MAX_SMS_SEGMENTS
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.render.validate import validate_source
from processors.runtime.stage import Output
from processors.rules.template_versions import (TOPIC, Refused, TemplateIndex, new_version, published, template_id_of,
                                              version_key)


def check(source: str, limits: RcsLimits = DEFAULT_LIMITS) -> tuple[str | None, list[Issue]]:
    """The template id ``source`` declares and every issue the validate rules find in it (empty: it may be saved)."""
    declared = template_id_of(source)
    if isinstance(declared, Issue):
        return None, [declared]
    return declared, validate_source(declared, source, limits, MAX_SMS_SEGMENTS)


def push(index: TemplateIndex, source: str, author: str, now: datetime, note: str | None = None, *,
         publish: bool = False, limits: RcsLimits = DEFAULT_LIMITS) -> Output | list[Issue]:
    """The record of ``source`` as its id's next version (a draft unless ``publish``), or every issue that refuses it."""
    template_id, issues = check(source, limits)
    if issues or template_id is None:
        return issues
    latest = index.versions(template_id)
    if latest and latest[max(latest)]["source"] == source and not publish:
        return [Issue("", f"{version_key(template_id, max(latest))} already has this exact text: nothing changed")]
    record = new_version(latest, template_id, source, author, now, note, publish=publish)
    return Output(TOPIC, version_key(template_id, record["version"]), record)


def publish(index: TemplateIndex, template_id: str, version: int, who: str, now: datetime) -> Output | Refused:
    """The record publishing ``template_id`` version ``version``; ``Refused`` when there is no such version or it no
    longer passes the rules (publishing it again when already published changes nothing and is allowed)."""
    versions = index.versions(template_id)
    if not versions:
        return Refused("unknown_template", f"no template {template_id!r}")
    row = versions.get(version)
    if row is None:
        return Refused("unknown_template_version", f"template {template_id!r} has no version {version} "
                                                   f"(it has {', '.join(map(str, versions))})")
    _, issues = check(row["source"])
    if issues:
        return Refused("invalid_template", f"{version_key(template_id, version)} breaks the rules: {'; '.join(map(str, issues))}")
    return Output(TOPIC, version_key(template_id, version), published(row, who, now))
