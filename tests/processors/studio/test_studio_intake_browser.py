"""The studio on the real intake (broker, key table, template store) in headless Chromium: sign in with a key made by
`courrier keys create`'s code, create a template from a starter, save it as a draft, publish it from its history;
the store then holds both records and a message may name the version. Screenshot kept in ``tests/artifacts/``."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Settings
from infra import chromium
from tests.processors.intake.intake_server import create_key, read_topic, serve

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(chromium.find() is None, reason="no chromium on PATH (`courrier infra fetch chromium`)")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [flag for flag in chromium.FLAGS if flag != "--headless"]


def test_a_template_made_in_the_studio_is_stored_published_and_sendable(topic_settings: Settings) -> None:
    editor = create_key(topic_settings, ("templates:read", "templates:write", "messages:send"), name="marketing")
    with serve(topic_settings) as intake, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium.ensure(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{intake.url}/studio")
            assert page.url.endswith("/studio/login?reason=missing_api_key")
            page.fill("input[name=key]", editor.key)
            page.click("button[type=submit]")
            assert "promo_spring" in page.locator("#templates").inner_text()  # the seeded bundled templates
            page.click("text=order confirmation")
            page.wait_for_selector("#rcs-phone .card")
            assert page.locator("#rcs-phone .card .title").inner_text() == "Order A-1042 confirmed"
            page.fill("input[name=note]", "first draft")
            page.click("#save")
            page.wait_for_selector("#history")
            assert "draft" in page.locator("#history").inner_text()
            page.click("text=Publish v1")
            page.wait_for_selector("#history")
            assert "published by api-key:" in page.locator("#history").inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "studio-intake-published.png"), full_page=True)
        finally:
            browser.close()
        records = [value for key, value in read_topic(topic_settings, "templates", 1) if key == "my_order_confirmation@1"]
        assert [r["status"] for r in records] == ["DRAFT", "PUBLISHED"] and records[0]["note"] == "first draft"
        with intake.client(editor.key) as client:
            sent = client.post("/v1/messages", json={"template_id": "my_order_confirmation", "template_version": 1,
                                                     "recipient": "+33612345678", "variables": {
                                                         "first_name": "Zoé", "order_id": "B-7", "total": "12 EUR",
                                                         "tracking_url": "https://example.com/o/B-7"}})
            assert sent.status_code == 202, sent.text
