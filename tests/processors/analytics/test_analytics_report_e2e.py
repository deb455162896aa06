"""``courrier report`` on a campaign run through the real pipeline: two A/B arms (SMS, RCS with SMS fallback) sent from
a CSV audience, every stage its own process, the provider simulator reporting over signed webhooks, clicks through
the real short-link service. The report's figures match the receipts read independently, and the page renders in
headless Chromium with the campaign's figures and its charts; the screenshot is kept in ``tests/artifacts/``.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from common.config import Settings
from courrier.outcomes import OutcomeWatcher
from courrier.processes import PIPELINE, StageProcess, settings_env, start_stage, start_webhooks, stop_all
from infra import chromium
from processors.analytics.read import request_scans
from processors.analytics.scan import TopicScan
from processors.campaigns.audience import open_audience
from processors.campaigns.logic import CampaignSpec
from processors.campaigns.publish import CampaignSend
from processors.campaigns.variants import Variant, VariantPlan
from processors.links.app import create_app
from sim.simulator import SimOptions
from sim.testing import private_sim
from tests.serving import free_port, served, wait_healthy

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SECRET = "report-e2e-" + uuid.uuid4().hex
PLAN = VariantPlan([Variant("A", 1, "SMS"), Variant("B", 1, "RCS_WITH_SMS_FALLBACK")])


@pytest.fixture
def pipeline(topic_settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """The chain sending RCS and SMS to a private simulator, its reports back through a receiver of this test's own,
    short links served by the links service; yields the settings and the links' base URL."""
    port = free_port()
    options = SimOptions(webhook_url=f"http://127.0.0.1:{port}/webhooks/sim", webhook_secret=SECRET)
    with private_sim(options) as sim, served(create_app(topic_settings), "links") as links:
        # A third of the RCS attempts expire at the provider: those leave again as SMS (the report's fallbacks).
        sim.configure(by_provider={"rbm": {"expired_rate": 0.3}})
        settings = topic_settings.model_copy(update={
            "sim_url": sim.url, "rbm_url": sim.url, "sim_webhook_url": options.webhook_url, "webhook_secret": SecretStr(SECRET),
            "dispatch_providers": "http", "dispatch_pacing": False, "quiet_hours_enabled": False, "link_domain": links})
        processes: list[StageProcess] = [start_webhooks(settings, tmp_path, port),
                                         *(start_stage(name, settings, tmp_path) for name in PIPELINE)]
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", processes[0])
            yield settings, links
        finally:
            stop_all(processes)


def send_campaign(settings: Settings, campaign: str, audience: Path, count: int) -> list[str]:
    """The campaign's CSV audience into send-requested; the message ids it was given."""
    audience.write_text("recipient,region,first_name,order_id\n"
                        + "".join(f"+33612{n:06d},FR,Léa,R{n:03d}\n" for n in range(count)))
    spec = CampaignSpec(campaign_id=campaign, template_id="order_shipped", policy="SMS", lane="TRANSACTIONAL", variants=PLAN,
                        sms_fallback_after_s=4)
    opened = open_audience(audience)
    sender = CampaignSend(settings, spec)
    try:
        sender.start(str(audience), "test")
        report = sender.stream(opened)
    finally:
        sender.close()
        opened.close()
    assert report.delivered == count, report
    return [r["context"]["message_id"] for r in chain(*request_scans(settings, needle=campaign.encode()))]


def click_links(settings: Settings, campaign: str, base: str, per_arm: dict[str, int]) -> dict[str, int]:
    """GET the short links of the first ``per_arm[arm]`` messages of each arm (one link each); clicks made per arm."""
    clicked: dict[str, set[str]] = {arm: set() for arm in per_arm}
    for link in TopicScan(settings, "links", needle=campaign.encode()):
        arm, message_id = link["context"]["variant"], link["context"]["message_id"]
        if message_id in clicked[arm] or len(clicked[arm]) >= per_arm[arm]:
            continue
        # The service follows `links` live: a link render wrote a moment ago may not be in its table yet (404 until then).
        deadline = time.monotonic() + 30
        while (answer := httpx.get(f"{base}/{link['token']}", follow_redirects=False, timeout=10)).status_code == 404 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer.status_code == 302, answer.text
        clicked[arm].add(message_id)
    return {arm: len(ids) for arm, ids in clicked.items()}


def expected_steps(receipts: dict[str, list[dict]], ids: list[str]) -> dict[str, dict[str, int]]:
    """Messages per arm and step, counted straight from the receipts (the report's rule: a message once per step)."""
    steps: dict[str, dict[str, int]] = {}
    for message_id in ids:
        seen = receipts[message_id]
        arm = seen[0]["context"]["variant"]
        counted = steps.setdefault(arm, {"requested": 0, "delivered": 0, "read": 0, "clicked": 0})
        counted["requested"] += 1
        for step, status in (("delivered", "DELIVERED"), ("read", "READ"), ("clicked", "CLICKED")):
            counted[step] += any(r["status"] == status for r in seen)
    return steps


def test_a_two_arm_campaign_report_matches_its_receipts_and_renders_in_chromium(pipeline: tuple[Settings, str], tmp_path: Path) -> None:
    settings, links = pipeline
    chromium.ensure()  # installs Debian's chromium when missing; as in the studio and dashboard tests, no browser is a failure
    campaign = f"report-{uuid.uuid4().hex[:6]}"
    watcher = OutcomeWatcher(settings)
    time.sleep(2)  # the stages join their groups
    ids = send_campaign(settings, campaign, tmp_path / "audience.csv", 24)
    assert len(ids) == 24
    outcomes = watcher.wait_terminal(ids, timeout_s=150)
    assert [m for m in ids if len(outcomes.terminal(m)) != 1] == []
    made = click_links(settings, campaign, links, {"A": 2, "B": 6})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(any(r["status"] == "CLICKED" for r in outcomes.receipts[m]) for m in ids) < sum(made.values()):
        watcher.poll()
    watcher.poll(2.0)  # READ reports trail the deliveries
    watcher.close()
    expected = expected_steps(outcomes.receipts, ids)
    assert sum(counts["clicked"] for counts in expected.values()) == sum(made.values())

    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "courrier.entry", "report", "--campaign", campaign, "--out", str(out)],
                            capture_output=True, text=True, timeout=300, env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    shown = {arm["arm"]: {step: arm["steps"][step] for step in ("requested", "delivered", "read", "clicked")} for arm in summary["arms"]}
    assert shown == expected
    assert {arm["arm"]: arm["policy"] for arm in summary["arms"]} == {"A": "SMS", "B": "RCS_WITH_SMS_FALLBACK"}
    assert {c["channel"] for c in summary["channels"]} >= {"SMS"}
    assert all(sum(arm["cost_micros"].values()) > 0 for arm in summary["arms"])
    headline = summary["ab_test"]["headline"]
    assert headline and summary["ab_test"]["headline_metric"] == "click rate"
    assert headline in result.stdout

    ARTIFACTS.mkdir(exist_ok=True)
    rendered = chromium.render(out / "report.html", ARTIFACTS / f"report-{campaign}.png")
    print(f"report screenshot: {rendered.screenshot}")
    dom = rendered.dom
    assert f"Campaign {campaign}" in dom and _html(headline) in dom
    for arm, counts in expected.items():
        row = re.search(rf"<tr><td>{arm}</td>.*?</tr>", dom, re.S)
        assert row is not None, f"no row of arm {arm} in the arms table"
        cells = re.findall(r"<td>([^<]*)</td>", row.group(0))
        assert cells[2] == str(counts["requested"]) and cells[6] == str(counts["delivered"]) and cells[8] == str(counts["clicked"])
    # Vega drew every chart as SVG, with marks: the inlined bundle ran, offline.
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == len(re.findall(r'id="chart-', dom)) >= 5
    assert '<div class="chart-error"' not in dom and rendered.screenshot.stat().st_size > 10_000


def _html(text: str) -> str:
    """``text`` as the page escapes it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
