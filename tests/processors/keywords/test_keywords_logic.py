"""Keyword outputs: consent changes per group, the history copy, the auto-reply, and nothing for other texts."""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

import pytest
from fastavro.validation import validate

import schemas
from processors.consent.logic import check
from processors.keywords.book import KeywordBook
from processors.keywords.logic import REPLY_NAMESPACE, handle, reply_message_id, sender_e164
from processors.keywords.stage import KeywordsStage
from processors.rules.templates import load as load_templates
from processors.runtime.stage import Output, RecordMeta

E164 = "+33612345678"


def by_topic(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


def test_stop_opts_out_of_every_group_of_the_sender(book: KeywordBook, inbound: Callable[..., dict[str, Any]],
                                                    assert_valid: Callable[[Output], None], received_at: datetime) -> None:
    outputs = handle(inbound("Stop!"), book)
    consent = by_topic(outputs, "consent")
    assert [(o.key, o.value["subscription_group"]) for o in consent] == [
        (f"{E164}|promotions", "promotions"), (f"{E164}|newsletter", "newsletter")]
    for output in consent:
        validate(output.value, schemas.parsed_schema("ConsentChange"), raise_errors=True)
        assert output.value | {"subscription_group": None, "evidence": None} == {
            "e164": E164, "subscription_group": None, "status": "OPTED_OUT", "basis": "MARKETING", "source": "keyword",
            "evidence": None, "changed_at": received_at, "text_shown": None, "ip_address": None,
            "inbound_message_id": inbound("Stop!")["provider_message_id"], "recorded_by": "keywords", "needs_review": False}
        assert json.loads(output.value["evidence"]) == {"text": "Stop!", "matched": "stop", "fuzzy": False, "language": None,
                                                        "sender_id": "36180"}
    history = by_topic(outputs, "consent-history")
    assert [(o.key, o.value) for o in history] == [(E164, o.value) for o in consent]
    for output in outputs:
        assert_valid(output)
    assert [o.topic for o in outputs].count("send-requested") == 1


def test_stopall_and_start_cover_every_group_too(book: KeywordBook, inbound: Callable[..., dict[str, Any]]) -> None:
    stopall = by_topic(handle(inbound("STOP ALL"), book), "consent")
    start = by_topic(handle(inbound("start"), book), "consent")
    assert [o.value["status"] for o in stopall] == ["OPTED_OUT", "OPTED_OUT"]
    assert [(o.key, o.value["status"]) for o in start] == [(f"{E164}|promotions", "OPTED_IN"), (f"{E164}|newsletter", "OPTED_IN")]


def test_a_group_keyword_changes_that_group_only(book: KeywordBook, inbound: Callable[..., dict[str, Any]]) -> None:
    outputs = handle(inbound("stoppromo"), book)
    assert [(o.topic, o.key) for o in outputs if o.topic != "send-requested"] == [
        ("consent", f"{E164}|promotions"), ("consent-history", E164)]
    us = handle(inbound("deals", from_e164="+12025550123", to_sender_id="12345"), book)
    assert [o.value["status"] for o in by_topic(us, "consent")] == ["OPTED_IN"]


def test_a_fuzzy_opt_out_is_flagged_in_its_evidence(book: KeywordBook, inbound: Callable[..., dict[str, Any]]) -> None:
    outputs = handle(inbound("Arrêtez de m'envoyer des SMS svp"), book)
    consent = by_topic(outputs, "consent")
    assert len(consent) == 2 and all(o.value["status"] == "OPTED_OUT" for o in consent)
    evidence = json.loads(consent[0].value["evidence"])
    assert evidence["fuzzy"] is True and evidence["language"] == "fr" and evidence["matched"] == "arretez de m envoyer"
    assert evidence["text"] == "Arrêtez de m'envoyer des SMS svp"
    assert by_topic(outputs, "send-requested")[0].value["locale"] == "fr"


def test_help_only_replies(book: KeywordBook, inbound: Callable[..., dict[str, Any]]) -> None:
    outputs = handle(inbound("AIDE"), book)
    assert [o.topic for o in outputs] == ["send-requested"]
    assert outputs[0].value["variables"] == {"kind": "help", "brand": "Courrier", "help": "courrier.example/aide", "media_url": "", "media_urls": ""}


def test_the_auto_reply_is_a_transactional_sms_request(book: KeywordBook, inbound: Callable[..., dict[str, Any]],
                                                        assert_valid: Callable[[Output], None], received_at: datetime) -> None:
    reply = by_topic(handle(inbound("STOP"), book), "send-requested")[0]
    assert_valid(reply)
    value = reply.value
    assert reply.key == E164 and value["recipient"] == E164
    assert value["context"] | {"message_id": None} == {
        "message_id": None, "idempotency_key": None, "campaign_id": None, "variant": None, "lane": "TRANSACTIONAL",
        "subscription_group": None, "requested_at": received_at, "source": "keywords"}
    assert uuid.UUID(value["context"]["message_id"]).version == 5
    assert (value["template_id"], value["channel_policy"], value["locale"]) == ("keyword_reply", "SMS", None)
    assert value["variables"] == {"kind": "opt_out", "brand": "Courrier", "help": "courrier.example/aide",
                                  "media_url": "", "media_urls": ""}
    assert value["validity_seconds"] == book.reply_validity_seconds


def test_the_reply_id_is_the_same_on_a_replay_and_differs_per_inbound_message(inbound: Callable[..., dict[str, Any]],
                                                                            received_at: datetime) -> None:
    first = reply_message_id(inbound("STOP"), E164)
    assert reply_message_id(inbound("stop"), E164) == first  # the same message read again
    assert reply_message_id(inbound("STOP", received_at=received_at + timedelta(milliseconds=1)), E164) != first
    assert reply_message_id(inbound("STOP", to_sender_id="12345"), E164) != first
    with_id = inbound("STOP", provider_message_id="abc")
    assert reply_message_id(with_id, E164) == str(uuid.uuid5(REPLY_NAMESPACE, "smpp|abc"))
    assert reply_message_id(with_id | {"received_at": received_at + timedelta(days=1)}, E164) == reply_message_id(with_id, E164)


def test_the_reply_passes_consent_after_the_stop_and_renders_in_each_language(
        book: KeywordBook, inbound: Callable[..., dict[str, Any]], received_at: datetime) -> None:
    outputs = handle(inbound("STOP"), book)
    consents = {o.key: o.value for o in by_topic(outputs, "consent")}
    reply = by_topic(outputs, "send-requested")[0].value
    checked = check(reply, consents, received_at)
    assert [o.topic for o in checked] == ["consent-checked"]
    template = load_templates()["keyword_reply"]
    variables = reply["variables"]
    assert template.render(variables, "fr", "SMS").sms_text.startswith("Courrier : vous ne recevrez plus")
    assert template.render(variables | {"kind": "opt_in"}, "sv", "SMS").sms_text.startswith("Courrier: du är registrerad")
    assert "courrier.example/aide" in template.render(variables | {"kind": "help"}, None, "SMS").sms_text


def test_numbers_are_keyed_in_e164_form() -> None:
    assert sender_e164("+33 6 12 34 56 78") == (E164, "FR")
    assert sender_e164("not a number") == ("not a number", None)


def test_other_texts_produce_nothing_and_are_counted_at_debug(inbound: Callable[..., dict[str, Any]],
                                                               caplog: pytest.LogCaptureFixture, received_at: datetime) -> None:
    stage = KeywordsStage()
    meta = RecordMeta(topic="inbound", partition=0, offset=7, key=E164, now=received_at)
    with caplog.at_level(logging.DEBUG, logger="processors.keywords.stage"):
        assert stage.process(inbound("Hello World"), meta) == []
        assert stage.process(inbound("where is my parcel?"), meta) == []
    assert stage.ignored == 2
    assert [r.levelname for r in caplog.records] == ["DEBUG", "DEBUG"]
    assert all(E164 not in r.getMessage() and r.__dict__["from"] == "+3361****78" for r in caplog.records)
    assert (stage.name, stage.inputs) == ("keywords", ("inbound",))
    assert [o.topic for o in stage.process(inbound("STOP"), meta)].count("consent") == 2
