"""A report as one JSON-able dict: what it is about, the aggregated figures, and for an A/B test every arm compared with
the first (its control) on delivery, read and click rate, with the headline verdict. ``summary.json`` is this dict;
the HTML page is drawn from it alone.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from processors.analytics.aggregate import LATENCY_EDGES, ArmTotals, Summary
from processors.analytics.stats import Comparison, compare

METHOD = ("two-proportion z-test (pooled standard error, two-sided) with a 95 % Wald confidence interval of the "
          "difference; the sample size still needed comes from a power calculation at 80 % power and the observed rates")
# (metric, its denominator's name, numerator step, denominator step)
METRICS = (("click rate", "deliveries", "clicked", "delivered"), ("read rate", "deliveries", "read", "delivered"),
           ("delivery rate", "sent messages", "delivered", "sent"))


def build(title: str, about: dict[str, Any], summary: Summary, policies: dict[str, str], ab_test: bool,
          generated_at: datetime, complete: bool) -> dict[str, Any]:
    """The report of ``summary``: ``about`` says what was read (campaign or time range); ``policies`` maps an arm to its
    channel policy when known; ``ab_test`` compares arms (variants), not templates; ``complete`` is False when a scan
    limit stopped a read early."""
    comparisons = ab_comparisons(summary.arms, policies) if ab_test else []
    headline = _headline(comparisons)
    return {
        "title": title,
        "about": about,
        "generated_at": generated_at.isoformat(),
        "complete": complete,
        "empty": summary.receipts == 0,
        "receipts": summary.receipts,
        "messages": summary.messages,
        "arms": [{**asdict(arm), "policy": policies.get(arm.arm), "rates": _rates(arm)} for arm in summary.arms],
        "funnel": [{"arm": arm, "channel": channel, **steps} for arm, channel, steps in summary.funnel],
        "channels": [asdict(c) for c in summary.channels],
        "fallback": {"rate": summary.fallback_rate, "reasons": summary.fallback_reasons},
        "latency": {"edges_s": list(LATENCY_EDGES), "channels": [asdict(lat) for lat in summary.latency]},
        "clicks": [asdict(c) for c in summary.clicks],
        "ab_test": {
            "method": METHOD,
            "headline": headline.verdict() if headline else None,
            "headline_metric": headline.metric if headline else None,
            "comparisons": [{**asdict(c), "significant": c.significant, "verdict": c.verdict()} for c in comparisons],
        } if ab_test else None,
    }


def ab_comparisons(arms: list[ArmTotals], policies: dict[str, str]) -> list[Comparison]:
    """Each arm after the first against the first, on every metric of ``METRICS``; an arm is named with its channel
    policy when known (``B (rcs_with_sms_fallback)``), so the verdict says which channel won."""
    if len(arms) < 2:
        return []

    def label(arm: ArmTotals) -> str:
        policy = policies.get(arm.arm)
        return f"{arm.arm} ({policy.lower()})" if policy else arm.arm

    control = arms[0]
    return [compare(metric, unit, label(control), control.steps[num], control.steps[den], label(arm), arm.steps[num], arm.steps[den])
            for arm in arms[1:] for metric, unit, num, den in METRICS]


def _headline(comparisons: list[Comparison]) -> Comparison | None:
    """The comparison the verdict speaks of: clicks when any arm has some, else reads, else deliveries; with several
    challengers, the one furthest from the control."""
    for metric, _unit, _num, _den in METRICS:
        chosen = [c for c in comparisons if c.metric == metric]
        if chosen and (metric == METRICS[-1][0] or any(c.successes_a or c.successes_b for c in chosen)):
            return max(chosen, key=lambda c: abs(c.difference))
    return None


def _rates(arm: ArmTotals) -> dict[str, float | None]:
    return {metric: (arm.steps[num] / arm.steps[den] if arm.steps[den] else None) for metric, _unit, num, den in METRICS}
