"""Short links: stable tokens, every URL of a text replaced and nothing else touched."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.render.links import TOKEN, Shortened, ShortLink, link_base, link_records, link_token, shorten

BASE = "https://go.example.com"
NOW = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def test_tokens_are_stable_short_and_distinct() -> None:
    token = link_token("m-1", "https://example.com/a")
    assert token == link_token("m-1", "https://example.com/a") and TOKEN.fullmatch(token)
    assert token != link_token("m-2", "https://example.com/a")
    assert token != link_token("m-1", "https://example.com/b")
    assert len({link_token(f"m-{i}", "https://example.com/") for i in range(10_000)}) == 10_000


def test_a_text_in_full() -> None:
    text = "Track it: https://example.com/t/FR-1. Questions? (see https://example.com/help) or HTTP://EXAMPLE.COM/A?b=1&c=2!"
    out = shorten(text, "m-1", BASE)
    tokens = [link.token for link in out.links]
    assert out.text == (f"Track it: {BASE}/{tokens[0]}. Questions? (see {BASE}/{tokens[1]}) or {BASE}/{tokens[2]}!")
    assert [link.url for link in out.links] == ["https://example.com/t/FR-1", "https://example.com/help",
                                                "HTTP://EXAMPLE.COM/A?b=1&c=2"]


@pytest.mark.parametrize(("text", "url"), [
    ("see https://en.wikipedia.org/wiki/Paris_(France).", "https://en.wikipedia.org/wiki/Paris_(France)"),
    ("(https://example.com/a_(b))", "https://example.com/a_(b)"),
    ("<https://example.com/x>", "https://example.com/x"),
    ('"https://example.com/q"', "https://example.com/q"),
    ("https://example.com/a,b;c:d", "https://example.com/a,b;c:d"),
    ("go to https://example.com/?!", "https://example.com/"),
    ("https://example.com/path#frag...", "https://example.com/path#frag"),
])
def test_where_a_url_ends(text: str, url: str) -> None:
    assert [link.url for link in shorten(text, "m", BASE).links] == [url]


def test_the_same_url_twice_is_one_link() -> None:
    out = shorten("https://a.example/x and again https://a.example/x", "m", BASE)
    token = link_token("m", "https://a.example/x")
    assert out.text == f"{BASE}/{token} and again {BASE}/{token}" and out.links == (ShortLink(token, "https://a.example/x"),)


def test_urls_already_on_the_link_base_and_bare_schemes_are_left_alone() -> None:
    text = f"{BASE}/abcdefghijkl and http:// and https://. and https:///x"
    assert shorten(text, "m", BASE) == Shortened(text, ())


def test_link_base_from_the_setting() -> None:
    assert link_base("go.example.com/") == "https://go.example.com"
    assert link_base(" http://127.0.0.1:18092 ") == "http://127.0.0.1:18092"
    assert link_base("HTTPS://Go.Example.com") == "HTTPS://Go.Example.com"


def test_records_carry_the_message_and_recipient(resolved_event, assert_valid) -> None:
    event = resolved_event(context={**resolved_event()["context"], "campaign_id": "spring", "variant": "B"})
    [record] = link_records((ShortLink("abcdefghijkl", "https://example.com/"),), event, "SMS", NOW)
    assert_valid(record)
    assert (record.topic, record.key) == ("links", "abcdefghijkl")
    assert record.value == {"token": "abcdefghijkl", "url": "https://example.com/", "context": event["context"],
                            "recipient": "+33612345678", "channel": "SMS", "template_id": "otp", "created_at": NOW}


# Texts made of free text and URLs: free text never holds "http"; a URL is followed by a separator (or the end), as
# in a sentence. The property: the output is the same pieces with each URL replaced by its link, in order.
_HOST = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True)
_PATH = st.from_regex(r"(/[A-Za-z0-9\-._~%!$&*+,;=:@]{0,12}){0,3}[A-Za-z0-9/]?(\?[a-z0-9=&]{1,10})?(#[a-z0-9]{1,6})?", fullmatch=True)
_URL = st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
                 st.sampled_from(["http", "https", "HTTPS", "Http"]), _HOST,
                 st.sampled_from(["", ":8080"]), _PATH).filter(lambda url: url[-1] not in ".,;:!?)]}")
_FREE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30).filter(lambda t: "http" not in t.lower())
_SEPARATOR = st.sampled_from([" ", "\n", "\t", ". ", ", ", "! ", "? ", ") ", "; ", '"', "<"])


@settings(max_examples=400)
@given(_FREE, st.lists(st.tuples(_URL, _SEPARATOR, _FREE), max_size=5), st.uuids())
def test_every_url_is_replaced_and_nothing_else_changes(head: str, pieces: list[tuple[str, str, str]], message_id) -> None:
    text = head + "".join(url + separator + free for url, separator, free in pieces)
    out = shorten(text, str(message_id), BASE)
    expected = head + "".join(f"{BASE}/{link_token(str(message_id), url)}{separator}{free}" for url, separator, free in pieces)
    assert out.text == expected
    assert [link.url for link in out.links] == list(dict.fromkeys(url for url, _s, _f in pieces))
    assert shorten(out.text, str(message_id), BASE).text == out.text  # a second pass finds nothing left to shorten
    assert not re.search(r"https?://(?!go\.example\.com/)", out.text, re.IGNORECASE)
