"""Template validation: every problem of a template file, each located by its path, without stopping at the first.

Beyond what loading refuses (unknown keys, types, Liquid syntax, RCS shape and counts), a template is
rendered: with its ``[sample]`` variables when it gives them, otherwise with every variable empty
(then only a length over a limit is reported: a text too long with nothing filled in is too long with
anything). The SMS segment count is that of the text as sent (smart-encoded when the template says
so), without the opt-out footer render adds to marketing messages.
"""
from __future__ import annotations

from typing import Any, Mapping

from processors.rules.issues import Issue
from processors.render.logic import MAX_SMS_SEGMENTS, sms_text
from processors.rules.rcs import DEFAULT_LIMITS, RcsLimits, is_web_url, rcs_problems
from processors.rules.sandbox import MissingVariables, RenderFailed, render_tree
from processors.render.segments import count
from processors.rules.templates import Template, draft_source


def validate_source(name: str, source: str, rcs_limits: RcsLimits = DEFAULT_LIMITS,
                    max_sms_segments: int = MAX_SMS_SEGMENTS) -> list[Issue]:
    """Every issue of the template file ``<name>.toml`` whose text is ``source``, each once; empty when it is clean."""
    draft = draft_source(source, name, rcs_limits)
    if draft.raw is None or draft.template is None:
        return draft.issues
    sample = draft.raw.get("sample")
    found = rendered_problems(draft.template, sample if _is_sample(sample) else None, rcs_limits, max_sms_segments)
    # A shape problem (a count, a missing key) is found again in the rendered content: report it once.
    return list(dict.fromkeys(draft.issues + found))


def rendered_problems(template: Template, sample: Mapping[str, str] | None, rcs_limits: RcsLimits,
                      max_sms_segments: int) -> list[Issue]:
    """The issues of ``template`` rendered with ``sample`` (or every variable empty): SMS segments, RCS limits, media URLs."""
    issues: list[Issue] = []
    for language, source in template.sms.items():
        text = _render(source, sample, f"sms.{language}", issues)
        if text is not None:
            issues += _segment_problems(template, text, f"sms.{language}", sample is not None, max_sms_segments)
    if template.rcs is not None:
        rcs = _render(template.rcs, sample, "rcs", issues)
        if rcs is not None:
            found = rcs_problems(rcs, rcs_limits, rendered=True)
            issues += found if sample is not None else [issue for issue in found if issue.too_long]
    if template.media_urls and sample is not None:
        urls = _render(list(template.media_urls), sample, "mms.media_urls", issues)
        issues += [Issue(f"mms.media_urls[{index}]", f"must be an http(s) URL, not {url[:80]!r}")
                   for index, url in enumerate(urls or []) if not is_web_url(url)]
    return issues


def _render(node: Any, sample: Mapping[str, str] | None, path: str, issues: list[Issue]) -> Any:
    """``node`` rendered, or ``None`` after noting why it does not render; variables a sample lacks render empty."""
    try:
        try:
            return render_tree(node, sample or {}, strict=sample is not None)
        except MissingVariables as exc:
            issues.append(Issue("sample", f"lacks variables {path} uses: {', '.join(exc.names)}"))
            return render_tree(node, sample or {}, strict=False)  # the rest is still worth checking
    except RenderFailed as exc:
        if sample is not None:  # with every variable empty a filter can fail where real values would not
            issues.append(Issue(path, f"does not render with the sample: {exc}"))
    return None


def _segment_problems(template: Template, text: str, path: str, sampled: bool, most: int) -> list[Issue]:
    info = count(sms_text(template, text))
    if info.segments <= most:
        return []
    given = "with the sample" if sampled else "with every variable empty"
    return [Issue(path, f"renders to {info.segments} SMS segments ({info.encoding}) {given}; the limit is {most}", too_long=True)]


def _is_sample(sample: Any) -> bool:
    return isinstance(sample, dict) and all(isinstance(value, str) for value in sample.values())
