"""The studio's preview without a browser: issues, rendered RCS, the SMS fallback's encoding, segments, UCS-2 triggers
and costs; the starters are valid templates."""
from __future__ import annotations

import pytest

from processors.rules.prices import load_prices
from processors.studio.app import STARTERS, starter_source
from processors.studio.preview import parse_sample, preview, runs
from processors.templates_store.changes import check

PRICES = load_prices()


@pytest.mark.parametrize("name", ["promotion", "order_confirmation", "delivery_notification", "re_engagement"])
def test_every_starter_is_a_valid_template(name: str) -> None:
    assert name in STARTERS
    template_id, issues = check(starter_source(name) or "")
    assert issues == [] and template_id == f"my_{name}"


def test_a_carousel_renders_its_cards_with_the_sample_and_costs_per_region() -> None:
    shown = preview(starter_source("promotion") or "", "first_name=Zoé", PRICES, "FR")
    assert shown.issues == [] and shown.template_id == "my_promotion"
    assert shown.rcs is not None and [card["title"] for card in shown.rcs["carousel"]] == ["20% off everything", "New this week"]
    assert shown.rcs["carousel"][0]["description"] == "Zoé, the sale ends Sunday."
    assert shown.sms is not None and shown.sms.encoding == "GSM7"  # é is in GSM-7's basic table
    assert (shown.sms.cost, shown.rcs_cost) == ("0.0450 EUR", "0.0300 EUR")
    assert preview(starter_source("promotion") or "", "", PRICES, "SE").sms.cost == "0.0520 EUR"  # type: ignore[union-attr]


def test_characters_forcing_ucs2_are_named_and_cut_out() -> None:
    source = 'id = "t"\nsmart_encoding = false\n[sms]\ndefault = "Hi {{ name }} ✓ done"\n'
    shown = preview(source, "name=Łukasz", PRICES)
    assert shown.sms is not None
    assert (shown.sms.encoding, shown.sms.triggers) == ("UCS2", ("Ł", "✓"))
    assert shown.sms.runs == [("Hi ", False), ("Ł", True), ("ukasz ", False), ("✓", True), (" done", False)]
    assert runs("ab", ()) == [("ab", False)]


def test_an_over_limit_button_label_is_named_with_its_rule() -> None:
    source = (starter_source("delivery_notification") or "").replace('"That works"', '"' + "A" * 26 + '"')
    shown = preview(source, "", PRICES)
    assert [(i.path, i.message) for i in shown.issues] == [("rcs.suggestions[0].text", "26 characters; the limit is 25")]


def test_bad_sample_lines_and_missing_variables_are_shown() -> None:
    variables, issues = parse_sample("a=1\n# note\nbroken\n=x")
    assert variables == {"a": "1"} and [i.message for i in issues] == ["line 3: write name=value", "line 4: write name=value"]
    shown = preview('id = "t"\n[sms]\ndefault = "Hi {{ who }}"\n', "", PRICES)
    assert shown.missing == ["who"] and shown.sms is not None
    assert preview("id = ", "", PRICES).issues[0].message.startswith("TOML:")


def test_mms_media_are_shown_with_their_cost() -> None:
    source = 'id = "t"\n[sms]\ndefault = "Look"\n[mms]\nmedia_urls = ["https://example.com/{{ pic }}.jpg"]\n[sample]\npic = "a"\n'
    shown = preview(source, "pic=b", PRICES, "US")
    assert (shown.media_urls, shown.mms_cost) == (["https://example.com/b.jpg"], "0.0200 EUR")
    assert preview(source.replace("[mms]\nmedia_urls", "[mms]\nmedia_urls_"), "", PRICES).media_urls == []
