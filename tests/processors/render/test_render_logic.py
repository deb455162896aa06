"""The render stage: rendered values per channel, footers, keys, short links, MMS media, rejections, and schemas."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from common.errors import TransientError
from processors.render.links import link_token
from processors.render.logic import load_footers, with_footer
from processors.web.media_rejected import MediaRejected
from processors.rules.rcs import RcsLimits
from processors.render.stage import RenderStage
from processors.rules.templates import DEFAULT_DIR
from processors.runtime.stage import Output, RecordMeta

NOW = datetime(2026, 3, 2, 9, 2, tzinfo=timezone.utc)
META = RecordMeta(topic="channel-resolved", partition=0, offset=0, key="k", now=NOW)
STAGE = RenderStage()
PROMO = {"first_name": "Léa", "discount": "20"}

RENDERED = "rendered-transactional"  # the lane topic of the fixtures' default (transactional) lane


def only(outputs: list[Output]) -> Output:
    assert len(outputs) == 1
    return outputs[0]


def test_stage_contract() -> None:
    assert (STAGE.name, STAGE.inputs) == ("render", ("channel-resolved",))


def test_sms_is_keyed_by_sender_with_exact_encoding(resolved_event, assert_valid) -> None:
    event = resolved_event()
    out = only(STAGE.process(event, META))
    assert_valid(out)
    assert (out.topic, out.key) == (RENDERED, "COURRIER")
    assert out.value == {
        "context": event["context"], "recipient": event["recipient"], "channel": "SMS", "fallback_reason": None,
        "sender": event["sender"], "template_id": "otp",
        "sms": {"text": "Votre code est 123456. Il expire dans 10 minutes.", "encoding": "GSM7", "segments": 1, "units": 49},
        "rcs_json": None, "media_urls": [], "expires_at": event["expires_at"], "sms_fallback": None, "attempt": 1,
    }


def test_locale_wins_over_the_region(resolved_event) -> None:
    out = only(STAGE.process(resolved_event(locale="en-GB"), META))
    assert out.value["sms"]["text"] == "Your code is 123456. It expires in 10 minutes."


@pytest.mark.parametrize(("region", "footer"), [("FR", "STOP au 36180"), ("SE", "Reply STOP to opt out"), ("US", "Reply STOP to opt out")])
def test_marketing_gets_the_regions_opt_out_footer(resolved_event, assert_valid, region: str, footer: str) -> None:
    out = only(STAGE.process(resolved_event("promo_spring", PROMO, region=region, lane="MARKETING"), META))
    assert_valid(out)
    assert out.value["sms"]["text"].endswith("\n" + footer)


def test_french_promo_in_full(resolved_event) -> None:
    sms = only(STAGE.process(resolved_event("promo_spring", PROMO, lane="MARKETING"), META)).value["sms"]
    assert sms == {"text": "Léa, soldes de printemps : -20 % sur tout jusqu'à dimanche.\nSTOP au 36180",
                   "encoding": "GSM7", "segments": 1, "units": 73}


def test_transactional_gets_no_footer(resolved_event) -> None:
    assert "STOP" not in only(STAGE.process(resolved_event(), META)).value["sms"]["text"]
    assert with_footer("hi", "TRANSACTIONAL", "FR", load_footers()) == "hi"


def test_rcs_carries_the_card_and_the_sms_fallback(resolved_event, assert_valid) -> None:
    event = resolved_event("order_shipped", {"first_name": "Oskar", "order_id": "A7"}, channel="RCS", region="SE", locale="sv-SE")
    out = only(STAGE.process(event, META))
    assert_valid(out)
    assert (out.key, out.value["channel"]) == ("courrier-agent-fr", "RCS")
    card = json.loads(out.value["rcs_json"])
    assert card["title"] == "Order A7 shipped" and card["media_url"] == "https://example.com/img/parcel.png"
    assert [s["type"] for s in card["suggestions"]] == ["open_url", "reply"]
    assert out.value["sms"]["text"].startswith("Hej Oskar, din order A7 är på väg.")


def test_rcs_without_an_rcs_section_sends_the_sms_text(tmp_path: Path, resolved_event) -> None:
    (tmp_path / "plain.toml").write_text('id = "plain"\n[sms]\ndefault = "Hello {{ name }}"')
    out = only(RenderStage(tmp_path).process(resolved_event("plain", {"name": "Jo"}, channel="RCS"), META))
    assert json.loads(out.value["rcs_json"]) == {"text": "Hello Jo"}


class StoredMedia:
    """A stand-in for the media pipeline: notes each call and answers stored URLs (or raises what it was given)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.error = error

    def __call__(self, urls, text_bytes: int) -> list[str]:
        self.calls.append((list(urls), text_bytes))
        if self.error is not None:
            raise self.error
        return [f"http://127.0.0.1:8333/courrier-media/{index}{'0' * 63}.jpg" for index, _url in enumerate(urls)]


def test_mms_carries_the_templates_media_as_stored(resolved_event, assert_valid) -> None:
    media = StoredMedia()
    out = only(RenderStage(media=media).process(resolved_event("promo_spring", PROMO, channel="MMS", region="US", lane="MARKETING"), META))
    assert_valid(out)
    text = "Léa, spring sale: 20% off everything until Sunday.\nReply STOP to opt out"
    assert media.calls == [(["https://example.com/img/spring.jpg"], len(text.encode("utf-8")))]
    assert (out.key, out.value["media_urls"], out.value["rcs_json"]) == ("+12025550102", [f"http://127.0.0.1:8333/courrier-media/0{'0' * 63}.jpg"], None)
    assert out.value["sms"]["text"] == text


def test_mms_outside_mms_regions_is_an_sms_with_a_link_to_the_media(resolved_event, assert_valid) -> None:
    event = resolved_event("promo_spring", PROMO, lane="MARKETING", channel_policy="MMS", fallback_reason="mms_unsupported_in_region")
    stored = f"http://127.0.0.1:8333/courrier-media/0{'0' * 63}.jpg"
    out = only(RenderStage(media=StoredMedia()).process(event, META))
    assert_valid(out)
    assert (out.value["channel"], out.value["media_urls"]) == ("SMS", [])
    assert out.value["sms"]["text"] == f"Léa, soldes de printemps : -20 % sur tout jusqu'à dimanche.\n{stored}\nSTOP au 36180"
    shortened = RenderStage(media=StoredMedia(), link_domain="go.example.com").process(event, META)
    assert [o.topic for o in shortened] == ["links", "rendered"]
    token = link_token("m-1", stored)
    assert shortened[0].value["url"] == stored and shortened[0].key == token
    assert shortened[1].value["sms"]["text"] == f"Léa, soldes de printemps : -20 % sur tout jusqu'à dimanche.\nhttps://go.example.com/{token}\nSTOP au 36180"


def test_an_sms_that_was_not_an_mms_fetches_no_media(resolved_event) -> None:
    media = StoredMedia()
    out = only(RenderStage(media=media).process(resolved_event("promo_spring", PROMO, lane="MARKETING", fallback_reason="rcs_not_capable"), META))
    assert media.calls == [] and "courrier-media" not in out.value["sms"]["text"]


def test_media_that_cannot_be_sent_is_a_rejection(resolved_event, assert_valid) -> None:
    media = StoredMedia(MediaRejected("media_fetch_blocked", "http://169.254.169.254/: 169.254.169.254 (cloud metadata)"))
    out = only(RenderStage(media=media).process(resolved_event("promo_spring", PROMO, channel="MMS", region="US", lane="MARKETING"), META))
    assert_valid(out)
    assert (out.value["status"], out.value["reason"], out.value["channel"]) == ("REJECTED", "media_fetch_blocked", "MMS")
    assert out.value["detail"] == "template promo_spring v1: http://169.254.169.254/: 169.254.169.254 (cloud metadata)"


def test_media_failures_that_may_pass_are_retried_and_a_stage_without_a_store_is_an_error(resolved_event) -> None:
    event = resolved_event("promo_spring", PROMO, channel="MMS", region="US", lane="MARKETING")
    with pytest.raises(TransientError, match="HTTP 503"):
        RenderStage(media=StoredMedia(TransientError("media https://example.com/img/spring.jpg: HTTP 503"))).process(event, META)
    with pytest.raises(RuntimeError, match="without a media store"):
        STAGE.process(event, META)


def test_urls_become_short_links_before_segments_are_counted(tmp_path: Path, resolved_event, assert_valid) -> None:
    long_url = "https://shop.example.com/" + "a" * 1600
    (tmp_path / "echo.toml").write_text('id = "echo"\n[sms]\ndefault = "{{ text }} {{ url }}"')
    event = resolved_event("echo", {"text": "Hi", "url": long_url})
    assert rejection(only(RenderStage(tmp_path).process(event, META)))[1] == "sms_too_long"  # 1,628 characters unshortened: 11 segments
    outputs = RenderStage(tmp_path, link_domain="http://127.0.0.1:18092").process(event, META)
    token = link_token("m-1", long_url)
    for output in outputs:
        assert_valid(output)
    assert [(o.topic, o.key) for o in outputs] == [("links", token), (RENDERED, "COURRIER")]
    assert outputs[1].value["sms"] == {"text": f"Hi http://127.0.0.1:18092/{token}", "encoding": "GSM7", "segments": 1, "units": 38}
    assert RenderStage(tmp_path, link_domain="http://127.0.0.1:18092").process(event, META) == outputs  # a re-render: same links


def test_the_rcs_fallback_text_is_shortened_too(resolved_event) -> None:
    event = resolved_event("order_shipped", {"first_name": "Oskar", "order_id": "A7"}, channel="RCS")
    links, rendered = RenderStage(link_domain="go.example.com").process(event, META)
    assert (links.value["url"], links.value["channel"]) == ("https://example.com/t/A7", "RCS")
    assert rendered.value["sms"]["text"].endswith(f"Suivi : https://go.example.com/{links.key}")
    assert json.loads(rendered.value["rcs_json"])["suggestions"][0]["url"] == "https://example.com/t/A7"


def test_fallback_reason_is_kept(resolved_event) -> None:
    out = only(STAGE.process(resolved_event(fallback_reason="rcs_capability_unknown"), META))
    assert out.value["fallback_reason"] == "rcs_capability_unknown"


def rejection(out: Output) -> tuple[str, str, str | None]:
    assert (out.topic, out.key, out.value["terminal"], out.value["stage"]) == ("receipt", "+33612345678", True, "render")
    return out.value["status"], out.value["reason"], out.value["detail"]


def test_unknown_template(resolved_event, assert_valid) -> None:
    out = only(STAGE.process(resolved_event("nope"), META))
    assert_valid(out)
    shipped = ", ".join(sorted(p.stem for p in DEFAULT_DIR.glob("*.toml")))
    assert rejection(out) == ("REJECTED", "unknown_template", f"no template 'nope'; known: {shipped}")


def test_missing_variables_are_all_named(resolved_event, assert_valid) -> None:
    out = only(STAGE.process(resolved_event("order_shipped", {}, channel="RCS"), META))
    assert_valid(out)
    assert rejection(out) == ("REJECTED", "missing_variables", "template order_shipped v1 needs: first_name, order_id")
    assert out.value["channel"] == "RCS"


def test_render_failure_is_a_rejection(tmp_path: Path, resolved_event) -> None:
    (tmp_path / "loop.toml").write_text('id = "loop"\n[sms]\ndefault = "{% for i in (1..n) %}x{% endfor %}"')
    out = only(RenderStage(tmp_path).process(resolved_event("loop", {"n": "100000"}), META))
    assert rejection(out)[:2] == ("REJECTED", "render_failed")
    assert "loop iteration limit" in out.value["detail"]


def test_too_many_segments_is_a_rejection(tmp_path: Path, resolved_event, assert_valid) -> None:
    (tmp_path / "echo.toml").write_text('id = "echo"\n[sms]\ndefault = "{{ text }}"')
    stage = RenderStage(tmp_path)
    assert only(stage.process(resolved_event("echo", {"text": "a" * 1530}), META)).value["sms"]["segments"] == 10
    out = only(stage.process(resolved_event("echo", {"text": "a" * 1531}), META))
    assert_valid(out)
    assert rejection(out) == ("REJECTED", "sms_too_long", "11 segments (GSM7); the limit is 10")
    mms = only(stage.process(resolved_event("echo", {"text": "a" * 1531}, channel="MMS", region="US"), META))
    assert mms.topic == RENDERED  # an MMS body is not cut into SMS segments


def test_footers_need_a_default(tmp_path: Path) -> None:
    path = tmp_path / "footers.json"
    path.write_text('{"FR": "STOP"}')
    with pytest.raises(ValueError, match="default"):
        load_footers(path)


def test_smart_encoding_keeps_an_sms_in_gsm7(tmp_path: Path, resolved_event) -> None:
    (tmp_path / "quote.toml").write_text('id = "quote"\n[sms]\ndefault = "It’s “{{ what }}” — see you…"', encoding="utf-8")
    (tmp_path / "raw.toml").write_text('id = "raw"\nsmart_encoding = false\n[sms]\ndefault = "It’s “{{ what }}”"', encoding="utf-8")
    stage = RenderStage(tmp_path)
    sms = only(stage.process(resolved_event("quote", {"what": "done"}), META)).value["sms"]
    assert sms == {"text": "It's \"done\" - see you...", "encoding": "GSM7", "segments": 1, "units": 24}
    kept = only(stage.process(resolved_event("raw", {"what": "done"}), META)).value["sms"]
    assert (kept["text"], kept["encoding"]) == ("It’s “done”", "UCS2")
    emoji = only(stage.process(resolved_event("quote", {"what": "😀"}), META)).value["sms"]
    assert (emoji["text"], emoji["encoding"]) == ("It’s “😀” — see you…", "UCS2")  # stays UCS-2 anyway: left as written


def test_rcs_text_of_a_template_without_rcs_is_not_smart_encoded(tmp_path: Path, resolved_event) -> None:
    (tmp_path / "quote.toml").write_text('id = "quote"\n[sms]\ndefault = "It’s {{ what }}"', encoding="utf-8")
    out = only(RenderStage(tmp_path).process(resolved_event("quote", {"what": "done"}, channel="RCS"), META))
    assert json.loads(out.value["rcs_json"]) == {"text": "It’s done"}
    assert out.value["sms"]["text"] == "It's done"


def test_a_carousel_goes_out_as_rendered(resolved_event, assert_valid) -> None:
    out = only(STAGE.process(resolved_event("promo_spring", PROMO, channel="RCS", lane="MARKETING"), META))
    assert_valid(out)
    message = json.loads(out.value["rcs_json"])
    assert [card["title"] for card in message["carousel"]] == ["Spring sale: 20% off", "Linen shirts", "Canvas sneakers"]
    assert message["carousel"][0]["description"] == "Léa, everything is 20% off until Sunday."
    assert [s["text"] for s in message["suggestions"]] == ["Shop now", "STOP"]


def test_rcs_made_too_long_by_a_variable_is_rejected(resolved_event, assert_valid) -> None:
    ok = only(STAGE.process(resolved_event("order_shipped", {"first_name": "Ava", "order_id": "x" * 186}, channel="RCS"), META))
    assert ok.topic == RENDERED  # "Order " + 186 + " shipped" = 200 characters
    out = only(STAGE.process(resolved_event("order_shipped", {"first_name": "Ava", "order_id": "x" * 187}, channel="RCS"), META))
    assert_valid(out)
    assert rejection(out) == ("REJECTED", "rcs_content_too_long", "template order_shipped v1: rcs.title: 201 characters; the limit is 200")


def test_rcs_content_that_renders_invalid_is_rejected(tmp_path: Path, resolved_event, assert_valid) -> None:
    (tmp_path / "card.toml").write_text(
        'id = "card"\n[sms]\ndefault = "hi"\n[rcs]\ntitle = "{{ title }}"\nmedia_url = "{{ image }}"\n'
        'suggestions = [{ type = "reply", text = "{{ label }}" }]', encoding="utf-8")
    stage = RenderStage(tmp_path)
    out = only(stage.process(resolved_event("card", {"title": "t" * 300, "image": "file:///etc/passwd", "label": ""}, channel="RCS"), META))
    assert_valid(out)
    assert rejection(out) == ("REJECTED", "invalid_rcs_content", "template card v1: rcs.title: 300 characters; the limit is 200; "
                              "rcs.media_url: must be an http(s) URL, not 'file:///etc/passwd'; rcs.suggestions[0].text: renders empty")
    assert only(stage.process(resolved_event("card", {"title": "t" * 300, "image": "file:///x", "label": ""}), META)).topic == RENDERED


def test_the_rcs_text_limit_is_a_setting_of_the_stage(tmp_path: Path, resolved_event) -> None:
    stage = RenderStage(rcs_limits=RcsLimits(text=40))
    out = only(stage.process(resolved_event("otp", channel="RCS"), META))
    assert rejection(out) == ("REJECTED", "rcs_content_too_long", "template otp v1: rcs.text: 46 characters; the limit is 40")



def test_each_lane_has_its_own_rendered_topic(resolved_event) -> None:
    topics = {lane: [o.topic for o in STAGE.process(resolved_event(lane=lane), META)] for lane in ("TRANSACTIONAL", "MARKETING")}
    assert topics == {"TRANSACTIONAL": ["rendered-transactional"], "MARKETING": ["rendered"]}
