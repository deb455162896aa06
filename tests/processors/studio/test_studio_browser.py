"""The studio in a real headless browser (Debian's Chromium driven by Playwright, served by uvicorn on 127.0.0.1):
sign in, a carousel's preview shows its cards and buttons and follows the editor live, an over-limit button label
shows the rule it breaks and saves nothing. Screenshots are kept in ``tests/artifacts/``."""
from __future__ import annotations

from pathlib import Path

import pytest

from infra import chromium
from processors.studio.app import starter_source
from tests.serving import served

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(chromium.find() is None, reason="no chromium on PATH (`courrier infra fetch chromium`)")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Playwright adds its own headless switch; the rest keeps Chromium off the network as infra.chromium does.
FLAGS = [flag for flag in chromium.FLAGS if flag != "--headless"]


@pytest.fixture
def browser_page(studio_app):
    with served(studio_app.app, "studio", lifespan="off", start_timeout_s=30) as base, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium.ensure(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{base}/studio/login")
            page.fill("input[name=key]", studio_app.keys["editor"])
            page.click("button[type=submit]")
            page.wait_for_selector("#templates")
            yield page, base, studio_app.written
        finally:
            browser.close()


def test_a_carousels_preview_shows_its_cards_and_buttons_and_follows_the_editor(browser_page) -> None:
    page, base, _ = browser_page
    page.goto(f"{base}/studio/new?starter=promotion")
    cards = page.locator("#rcs-phone #carousel .card")
    assert cards.count() == 2
    assert cards.nth(0).locator(".title").inner_text() == "20% off everything"
    assert [b.inner_text() for b in page.locator("#carousel .card .button").all()] == ["Shop now", "See what's new"]
    assert page.locator("#rcs-phone .chip").inner_text() == "STOP"
    assert "image: https://example.com/img/sale.jpg" in cards.nth(0).locator(".media").inner_text()
    assert page.locator("#sms-encoding").inner_text() == "GSM7" and page.locator("#valid").is_visible()

    # Live: a third card and a UCS-2 character in the SMS text, shown without saving.
    page.fill("#source", _with_third_card(starter_source("promotion") or ""))
    playwright.expect(page.locator("#carousel .card")).to_have_count(3)  # the page's CSP allows no eval'd wait
    assert page.locator("#sms-encoding").inner_text() == "UCS2"
    assert page.locator("#sms-text mark.ucs2").all_inner_texts() == ["✓"]
    assert page.locator("#carousel .card").nth(2).locator(".button").inner_text() == "Go"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "studio-carousel-preview.png"), full_page=True)

    # The toolbar inserts a part at the cursor: a fourth card at the end of the text.
    page.focus("#source")
    page.keyboard.press("Control+End")
    page.click("button.snippet:has-text('Carousel card')")
    playwright.expect(page.locator("#carousel .card")).to_have_count(4)
    assert page.locator("#carousel .card").nth(3).locator(".button").inner_text() == "Open"


def test_an_over_limit_button_label_shows_the_rule_and_saves_nothing(browser_page) -> None:
    page, base, written = browser_page
    page.goto(f"{base}/studio/new?starter=delivery_notification")
    long_label = "Reschedule for another day"  # 26 characters: one over RCS's 25
    page.fill("#source", (starter_source("delivery_notification") or "").replace('"Reschedule"', f'"{long_label}"'))
    page.wait_for_selector("#issues")
    assert "rcs.suggestions[1].text: 26 characters; the limit is 25" in page.locator("#issues").inner_text()
    page.click("#save")
    page.wait_for_selector("#save-refused")
    assert "rcs.suggestions[1].text: 26 characters; the limit is 25" in page.locator("#save-refused").inner_text()
    assert long_label in page.locator("#source").input_value()  # the edit is kept in the editor, to be fixed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "studio-over-limit-refused.png"), full_page=True)
    assert written.records == []
    page.goto(f"{base}/studio")
    assert "No template yet" in page.locator("#templates").inner_text()


def _with_third_card(source: str) -> str:
    """The promotion starter with a third card before its [sample] table and a ✓ in its SMS text."""
    head, sample = source.split("[sample]")
    card = ('[[rcs.carousel]]\ntitle = "Last chance"\ndescription = "Ends tonight."\n'
            'suggestions = [{ type = "open_url", text = "Go", url = "https://example.com/last" }]\n\n')
    return head.replace("until Sunday", "until Sunday ✓") + card + "[sample]" + sample
