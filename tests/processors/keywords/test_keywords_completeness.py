"""Keyword completeness: a sender or subscription group without its STOP and HELP responses refuses marketing, named
by what is missing — in the pure check, through the consent stage (a REJECTED receipt) and in ``courrier config check``."""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
import tomli_w

from processors.channel.senders import SenderPools
from processors.channel.stage import ChannelStage
from processors.consent.logic import Rules, consent_key
from processors.keywords.book import DEFAULT_PATH, from_mapping, load
from processors.keywords.completeness import REASON, Completeness
from processors.runtime.stage import RecordMeta
from tests.courrier.test_config_check import check, write
from tests.processors.consent.conftest import consent_stage, request_event  # noqa: F401 (the fixture)

NOW = datetime(2026, 3, 2, 9, 0, 30, tzinfo=timezone.utc)


def bundled() -> dict[str, Any]:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def without(raw: dict[str, Any], sender_id: str, field: str) -> dict[str, Any]:
    """The keyword table with one sender's response removed (declared, not written yet)."""
    changed = copy.deepcopy(raw)
    del changed["senders"][sender_id][field]
    return changed


def test_the_shipped_book_is_complete() -> None:
    completeness = Completeness.of(load())
    assert completeness.problems() == []
    assert completeness.group_missing("promotions") is None


def test_a_sender_without_its_help_response_names_the_field_and_blocks_its_groups() -> None:
    completeness = Completeness.of(from_mapping(without(bundled(), "36180", "help")))
    problems = completeness.problems()
    assert "keywords.senders.36180: missing HELP response (keywords.senders.36180.help)" in problems
    missing = completeness.group_missing("promotions")
    assert missing is not None and "HELP response (keywords.senders.36180.help)" in missing
    assert completeness.group_missing("us-deals") is None  # only 12345 sends for it, and it is complete


def test_a_sender_without_its_brand_has_no_stop_response() -> None:
    completeness = Completeness.of(from_mapping(without(bundled(), "12345", "brand")))
    missing = completeness.group_missing("us-deals")
    assert missing is not None and "STOP response (keywords.senders.12345.brand)" in missing


def test_a_group_no_sender_lists_has_no_response() -> None:
    raw = copy.deepcopy(bundled())
    raw["groups"]["vip"] = {"opt_out": ["STOPVIP"]}
    completeness = Completeness.of(from_mapping(raw))
    assert "no sender in keywords.senders lists it" in (completeness.group_missing("vip") or "")
    assert "no sender in keywords.senders lists it" in (completeness.group_missing("undeclared") or "")
    assert any("'vip'" in line for line in completeness.problems())


def test_a_blank_response_is_still_a_mistake_in_the_file() -> None:
    raw = copy.deepcopy(bundled())
    raw["senders"]["36180"]["help"] = " "
    with pytest.raises(ValueError, match="senders.36180.help must be a non-empty string"):
        from_mapping(raw)


def test_keyword_replies_of_an_incomplete_sender_use_the_default_response() -> None:
    book = from_mapping(without(bundled(), "36180", "help"))
    assert book.sender("36180").help == book.senders["default"].help
    assert book.sender("36180").groups == ("promotions", "newsletter")


def test_consent_rejects_marketing_of_an_incomplete_group_naming_what_is_missing(request_event: Callable[..., dict[str, Any]]) -> None:
    completeness = Completeness.of(from_mapping(without(bundled(), "36180", "help")))
    opted_in = {"e164": "+33612345678", "subscription_group": "promotions", "status": "OPTED_IN", "basis": "MARKETING",
                "source": "form", "evidence": None, "changed_at": NOW}
    rules = replace(Rules(), quiet_hours=None, group_incomplete=completeness.group_missing)
    stage = consent_stage({consent_key("+33612345678", "promotions"): opted_in}, rules=rules)
    meta = RecordMeta(topic="send-requested", partition=0, offset=0, key="+33612345678", now=NOW)
    marketing = request_event(lane="MARKETING", subscription_group="promotions", template_id="promo_spring",
                              variables={"first_name": "Ada", "offer_url": "https://courrier.example/o"})
    [refused] = stage.process(marketing, meta)
    assert refused.topic == "receipt"
    assert refused.value["status"] == "REJECTED" and refused.value["reason"] == REASON
    assert "keywords.senders.36180.help" in refused.value["detail"]
    # transactional messages are not held back by keyword responses
    [passed] = consent_stage({}, rules=rules).process(request_event(), meta)
    assert passed.topic == "consent-checked"


def test_config_check_reports_an_incomplete_sender_and_exits_1(tmp_path: Path) -> None:
    raw = without(bundled(), "36180", "help")
    raw.pop("_doc")
    write(tmp_path, tomli_w.dumps({"keywords": raw}))
    done = check(tmp_path)
    assert done.returncode == 1
    assert "keywords.senders.36180: missing HELP response (keywords.senders.36180.help)" in done.stderr + done.stdout
    assert "it may not send marketing until they are set" in done.stderr + done.stdout


def test_config_check_passes_with_the_bundled_book(tmp_path: Path) -> None:
    write(tmp_path, "partitions = 4\n")
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_channel_stage_rejects_marketing_from_an_incomplete_sender_naming_what_is_missing() -> None:
    completeness = Completeness.of(from_mapping(without(bundled(), "36180", "brand")))
    assert completeness.sender_refusal("COURRIER") is None and completeness.sender_refusal("+33757000101") is None  # default
    pools = SenderPools.from_mapping({"FR": {"SHORT_CODE": [{"sender_id": "36180", "segments_per_second": 100}]}})
    stage = ChannelStage(pools, sender_refusal=completeness.sender_refusal)
    meta = RecordMeta(topic="consent-checked", partition=0, offset=0, key="+33612345678", now=NOW)

    def checked(lane: str) -> dict[str, Any]:
        context = {"message_id": f"m-{lane}", "idempotency_key": None, "campaign_id": None, "variant": None, "lane": lane,
                   "subscription_group": "promotions" if lane == "MARKETING" else None, "requested_at": NOW, "source": "test"}
        return {"context": context, "recipient": {"e164": "+33612345678", "region": "FR"}, "template_id": "promo_spring",
                "variables": {}, "channel_policy": "SMS", "expires_at": None, "locale": None}

    [refused] = stage.process(checked("MARKETING"), meta)
    assert (refused.topic, refused.value["status"], refused.value["reason"]) == ("receipt", "REJECTED", REASON)
    assert "sender '36180'" in refused.value["detail"] and "keywords.senders.36180.brand" in refused.value["detail"]
    [resolved] = stage.process(checked("TRANSACTIONAL"), meta)
    assert resolved.topic == "channel-resolved" and resolved.value["sender"]["sender_id"] == "36180"
