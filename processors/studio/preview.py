"""What the studio shows beside the editor, computed without a browser: the issues of a template's text (the rules of
``courrier templates validate``), its RCS section and SMS fallback rendered with sample variables, the SMS text's
encoding, segments and the characters that forced UCS-2, and what one message would cost in a region.

Sample variables are the template's ``[sample]`` overridden by the editor's ``name=value`` lines; a variable given
by neither renders empty (the preview still shows the rest). The SMS text is the text as sent: smart-encoded when the
template says so, without the opt-out footer render adds to marketing messages.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from processors.rules.prices import cost_micros
from processors.rules.issues import Issue
from processors.render.logic import MAX_SMS_SEGMENTS, sms_text
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits
from processors.rules.sandbox import MissingVariables, RenderFailed
from processors.render.segments import count
from processors.rules.templates import language_for
from processors.templates_store.changes import check
from processors.rules.templates import draft_source


@dataclass(frozen=True)
class SmsPreview:
    """The SMS fallback as sent: text in runs (``(text, forces_ucs2)``), encoding, units, segments, UCS-2 triggers."""

    runs: list[tuple[str, bool]]
    encoding: str
    units: int
    segments: int
    triggers: tuple[str, ...]
    cost: str | None


@dataclass(frozen=True)
class Preview:
    """Everything the preview pane draws; ``issues`` empty means the text may be saved."""

    template_id: str | None
    issues: list[Issue]
    rcs: dict[str, Any] | None = None
    sms: SmsPreview | None = None
    rcs_cost: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    media_urls: list[str] = field(default_factory=list)  # what an MMS carries (where MMS is sent: US, CA)
    mms_cost: str | None = None


def parse_sample(text: str) -> tuple[dict[str, str], list[Issue]]:
    """``name=value`` lines (blank lines and ``#`` comments skipped) as variables, and an issue per malformed line."""
    found: dict[str, str] = {}
    issues = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            issues.append(Issue("sample variables", f"line {number}: write name=value"))
            continue
        found[name.strip()] = value.strip()
    return found, issues


def runs(text: str, triggers: tuple[str, ...]) -> list[tuple[str, bool]]:
    """``text`` cut into runs of characters that do and do not force UCS-2, in order."""
    out: list[tuple[str, bool]] = []
    for char in text:
        flagged = char in triggers
        if out and out[-1][1] == flagged:
            out[-1] = (out[-1][0] + char, flagged)
        else:
            out.append((char, flagged))
    return out


def money(micros: int | None, currency: str | None) -> str | None:
    """``45000`` micros → ``0.0450 EUR``; None without a price."""
    return None if micros is None else f"{micros / 1_000_000:.4f} {currency or ''}".strip()


def preview(source: str, sample_text: str, prices: Mapping[str, Any], region: str = "FR",
            limits: RcsLimits = DEFAULT_LIMITS) -> Preview:
    """The preview of ``source`` with the sample variables of ``sample_text`` for a recipient in ``region``."""
    template_id, issues = check(source, limits)
    given, sample_issues = parse_sample(sample_text)
    issues = issues + sample_issues
    draft = draft_source(source, template_id or "", limits) if template_id else None
    if draft is None or draft.template is None or draft.raw is None or "default" not in draft.template.sms:
        return Preview(template_id, issues)
    sample = draft.raw.get("sample")
    variables = {**(sample if isinstance(sample, dict) else {}), **given}
    template = draft.template
    missing: list[str] = []
    try:
        try:
            content = template.render(variables, language_for(None, region), "RCS")
        except MissingVariables as exc:
            missing = exc.names
            content = template.render(variables, language_for(None, region), "RCS", strict=False)
    except RenderFailed as exc:
        return Preview(template_id, issues + [Issue("sample variables", f"the template does not render with them: {exc}")],
                       variables=variables)
    text = sms_text(template, content.sms_text)
    info = count(text)
    currency = prices.get("currency")
    sms = SmsPreview(runs(text, info.ucs2_triggers), info.encoding, info.units, info.segments, info.ucs2_triggers,
                     money(cost_micros("SMS", region, info.segments, prices), currency))
    if info.segments > MAX_SMS_SEGMENTS:
        issues.append(Issue("sms.default", f"renders to {info.segments} SMS segments; the limit is {MAX_SMS_SEGMENTS}", too_long=True))
    rcs = content.rcs if content.rcs is not None else {"text": content.sms_text}
    media = template.render(variables, language_for(None, region), "MMS", strict=False).media_urls if template.media_urls else []
    return Preview(template_id, list(dict.fromkeys(issues)), rcs, sms, money(cost_micros("RCS", region, 1, prices), currency),
                   variables, missing, media, money(cost_micros("MMS", region, 1, prices), currency) if media else None)
