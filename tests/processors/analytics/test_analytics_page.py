"""The report dict and its files: the verdict and method on the page, charts inlined with their JavaScript (no
network), summary.json with the same figures, and an empty report that says so instead of drawing charts."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from processors.analytics.aggregate import Aggregator
from processors.analytics.page import render, write
from processors.analytics.report import METHOD, build
from processors.receipts import receipt

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def campaign_aggregator(sent: dict[str, int], clicked: dict[str, int]) -> Aggregator:
    agg = Aggregator()
    for arm, count in sent.items():
        channel = "SMS" if arm == "A" else "RCS"
        for n in range(count):
            context = {"message_id": f"{arm}{n}", "idempotency_key": None, "campaign_id": "c", "variant": arm, "lane": "MARKETING",
                       "subscription_group": "g", "requested_at": NOW, "source": "campaign", "api_key_id": None}
            agg.add_request(context["message_id"], arm)
            for status in ("SENT", "DELIVERED") + (("CLICKED",) if n < clicked[arm] else ()):
                agg.add_receipt(receipt(context, "+33612345678", status, "links" if status == "CLICKED" else "receipt", NOW,
                                        channel=channel, segments=1, cost_micros=45_000, currency="EUR",
                                        detail="https://shop.example/x" if status == "CLICKED" else None).value, arm)
    return agg


def test_an_ab_report_has_the_verdict_the_method_tables_and_inline_charts(tmp_path: Path) -> None:
    summary = campaign_aggregator({"A": 200, "B": 200}, {"A": 20, "B": 60}).summary()
    report = build("Campaign c", {"campaign": "c", "state": "ACTIVE"}, summary, {"A": "SMS", "B": "RCS_WITH_SMS_FALLBACK"}, True,
                   NOW, True)
    assert report["ab_test"]["headline"].startswith(
        "B (rcs_with_sms_fallback) arm: +20.0 pts click rate vs A (sms), significant at 95 %")
    html_path, json_path = write(report, tmp_path / "out")
    html = html_path.read_text()
    assert report["ab_test"]["headline"] in html and METHOD in html
    assert "RCS_WITH_SMS_FALLBACK" in html and "https://shop.example/x" in html and "9.00 EUR" in html
    assert {"funnel", "channels", "latency", "clicks", "cost"} <= set(re.findall(r'id="chart-(\w+)"', html))
    assert "vegaEmbed" in html and not re.search(r"<script[^>]+src=", html)  # the bundle is inline: no CDN
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(report))


def test_a_report_without_receipts_says_so_and_draws_no_chart() -> None:
    report = build("Campaign c", {"campaign": "c", "state": "ACTIVE"}, Aggregator().summary(), {}, True, NOW, True)
    html = render(report)
    assert report["empty"] and 'id="no-receipts"' in html and "No receipts yet for this campaign" in html
    assert "chart-" not in html and "vegaEmbed" not in html


def test_one_arm_has_nothing_to_compare_and_a_transactional_report_no_ab_section() -> None:
    one = build("Campaign c", {"campaign": "c"}, campaign_aggregator({"A": 3}, {"A": 0}).summary(), {}, True, NOW, True)
    assert one["ab_test"]["comparisons"] == [] and "one arm only: nothing to compare" in render(one)
    ranged = build("Transactional", {"lane": "transactional"}, campaign_aggregator({"A": 3}, {"A": 0}).summary(), {}, False, NOW, False)
    html = render(ranged)
    assert ranged["ab_test"] is None and "A/B verdict" not in html and "the figures cover part of the topic only" in html
