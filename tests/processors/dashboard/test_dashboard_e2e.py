"""The live dashboard on a campaign run through the real pipeline: two A/B arms (SMS; RCS with SMS fallback, a third
of the RCS attempts expiring at the provider), every stage its own process, the provider simulator reporting over
signed webhooks, clicks through the real short-link service. The intake serves the dashboard; headless Chromium
(Debian's, driven by Playwright) signs in with a ``reports:read`` key and shows the campaign's figures equal to its
receipts, read independently; one more click and a conversion reported over the API show up without reloading the
page. The screenshot is kept in
``tests/artifacts/``.
"""
from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from common.config import Settings
from courrier.outcomes import OutcomeWatcher
from infra import chromium
from processors.analytics.scan import TopicScan
from processors.intake.api import create_app
from processors.status.logic import PREVIEW_BOT
from sim.testing import served_in_thread
from tests.processors.analytics.test_analytics_report_e2e import click_links, pipeline, send_campaign  # noqa: F401 (fixture)
from tests.processors.intake.intake_server import create_key

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(chromium.find() is None, reason="no chromium on PATH (`courrier infra fetch chromium`)")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [flag for flag in chromium.FLAGS if flag != "--headless"]  # Playwright adds its own headless switch
COUNT = 16


def expected(receipts: dict[str, list[dict]]) -> dict:
    """The dashboard's figures counted straight from the receipts (each receipt once, by its id)."""
    unique = {r["receipt_id"]: r for seen in receipts.values() for r in seen}.values()
    channels: dict[str, Counter] = {}
    for r in unique:
        if r["channel"] is not None and r["status"] != "CLICKED":
            channels.setdefault(r["channel"], Counter())[r["status"]] += 1
    figures = {channel: [c["SENT"], c["DELIVERED"] + c["PARTIALLY_DELIVERED"],
                         c["UNDELIVERED"] + c["FAILED"] + c["EXPIRED"], c["READ"]] for channel, c in channels.items()}
    buttons = Counter(f"link {r['detail']}" for r in unique
                      if r["status"] == "CLICKED" and r["stage"] == "links" and r["provider_status"] != PREVIEW_BOT)
    variants: dict[str, list[int]] = {}
    for seen in receipts.values():
        statuses = {r["status"] for r in seen}
        counts = variants.setdefault(seen[0]["context"]["variant"], [0, 0, 0])
        counts[0] += 1
        counts[1] += bool(statuses & {"DELIVERED", "PARTIALLY_DELIVERED", "READ", "CLICKED"})
        counts[2] += "CLICKED" in statuses
    fallbacks = sum(any(r["fallback_reason"] and r["channel"] for r in seen) for seen in receipts.values())
    return {"channels": figures, "buttons": dict(buttons), "variants": variants, "fallbacks": fallbacks,
            "messages": len(receipts)}


def shown(page, campaign: str) -> dict:
    """The same figures as the page shows them."""
    section = page.locator(f'section[data-flow="{campaign}"]')
    channels = {}
    for row in section.locator("table.channels tr[data-channel]").all():
        cells = row.locator("td").all_inner_texts()
        channels[cells[0]] = [int(cells[1]), int(cells[2]), int(cells[3]), int(cells[6])]
    buttons = {cells[0]: int(cells[1]) for cells in
               (row.locator("td").all_inner_texts() for row in section.locator("table.buttons tr").all()) if cells}
    variants = {cells[0]: [int(cells[1]), int(cells[2]), int(cells[3])] for cells in
                (row.locator("td").all_inner_texts() for row in section.locator("table.variants tr[data-variant]").all())}
    fallbacks = int(section.locator(".fallbacks").inner_text()) if section.count() else -1
    messages = section.locator("h2 small").inner_text().split(" · ")[1] if section.count() else ""
    return {"channels": channels, "buttons": buttons, "variants": variants, "fallbacks": fallbacks,
            "messages": int(messages.split()[0]) if messages else -1}


def wait_shown(page, campaign: str, want: dict, timeout_s: float = 60.0) -> dict:
    """What the page shows once it equals ``want`` (the status stage and the intake's table trail the receipts), or at
    the deadline; the page is never reloaded: it refreshes itself."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = shown(page, campaign)
        if seen == want or time.monotonic() > deadline:
            return seen
        page.wait_for_timeout(500)


def test_the_dashboard_shows_a_running_campaigns_receipts_in_chromium(pipeline: tuple[Settings, str], tmp_path: Path) -> None:
    settings, links = pipeline
    campaign = f"dash-{uuid.uuid4().hex[:6]}"
    watcher = OutcomeWatcher(settings)
    time.sleep(2)  # the stages join their groups
    ids = send_campaign(settings, campaign, tmp_path / "audience.csv", COUNT)
    outcomes = watcher.wait_terminal(ids, timeout_s=150)
    assert [m for m in ids if not outcomes.terminal(m)] == []
    made = click_links(settings, campaign, links, {"A": 1, "B": 4})
    key = create_key(settings, ("reports:read", "conversions:write"), name="dashboard-e2e")
    with served_in_thread(create_app(settings), "intake-dashboard-test") as base, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium.ensure(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"{base}/dashboard?every=1")
            assert page.url.startswith(f"{base}/dashboard/login")
            page.fill("input[name=key]", key.key)
            page.click("button[type=submit]")
            page.wait_for_selector("#panel")
            page.goto(f"{base}/dashboard?every=1")
            deadline = time.monotonic() + 60
            while sum(any(r["status"] == "CLICKED" for r in outcomes.receipts[m]) for m in ids) < sum(made.values()) \
                    and time.monotonic() < deadline:
                watcher.poll()
            watcher.poll(3.0)  # READ reports trail the deliveries
            want = expected({m: outcomes.receipts[m] for m in ids})
            assert want["messages"] == COUNT and sum(want["buttons"].values()) == sum(made.values())
            assert wait_shown(page, campaign, want) == want

            # Live: one more click is counted on the page without reloading it.
            link = next(iter(TopicScan(settings, "links", needle=campaign.encode())))
            assert httpx.get(f"{links}/{link['token']}", follow_redirects=False, timeout=10).status_code == 302
            button = f"link {link['url']}"
            more = {**want, "buttons": {**want["buttons"], button: want["buttons"].get(button, 0) + 1}}
            assert wait_shown(page, campaign, more, timeout_s=30)["buttons"] == more["buttons"]

            # A conversion reported over the API is counted on the page, with its value.
            reported = httpx.post(f"{base}/v1/conversions", headers={"Authorization": f"Bearer {key.key}"}, timeout=30, json={
                "conversion_id": f"order-{campaign}", "link_token": link["token"], "event": "purchase", "value": "24.90",
                "currency": "EUR"})
            assert reported.status_code in (200, 201, 202), reported.text
            total = page.locator(f'section[data-flow="{campaign}"] .conversion-total')
            playwright.expect(total).to_have_text("1", timeout=30_000)
            assert "value 24.90 EUR" in page.locator(f'section[data-flow="{campaign}"] .conversions').inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{campaign}.png"), full_page=True)
            low = [c for c, (_, delivered, failed, _) in want["channels"].items() if delivered + failed and delivered / (delivered + failed) < 0.95]
            assert page.locator(f'section[data-flow="{campaign}"] .flag').count() == len(low) + bool(low)  # each channel, and the campaign
        finally:
            browser.close()
    watcher.close()
