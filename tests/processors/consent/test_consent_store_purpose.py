"""Consent reads a template's purpose from the template store: a template pushed as marketing is kept off the
transactional lane as soon as it is published, and what counts is its latest published version."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from common.config import Settings
from processors.consent.logic import check
from processors.consent.stage import rules_from_settings
from processors.templates_store.changes import publish, push
from processors.rules.template_versions import TemplateIndex

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
FLASH = 'id = "flash"\npurpose = "marketing"\n[sms]\ndefault = "Sale {{ code }}"\n[sample]\ncode = "1"\n'


def stored(index: TemplateIndex, outcome: Any) -> None:
    index.take(outcome.key, outcome.value)


def test_a_published_marketing_template_of_the_store_is_refused_on_the_transactional_lane(
        request_event: Callable[..., dict[str, Any]]) -> None:
    index = TemplateIndex()
    rules = rules_from_settings(Settings(quiet_hours_enabled=False), index)
    event = request_event(template_id="flash", variables={"code": "1"})
    stored(index, push(index, FLASH, "ana", NOW))
    assert "flash" not in rules.marketing_templates  # a draft declares nothing yet: it cannot be sent at all
    stored(index, publish(index, "flash", 1, "bo", NOW))
    [out] = check(event, {}, NOW, rules=rules)
    assert (out.value["status"], out.value["reason"]) == ("REJECTED", "marketing_template_on_transactional_lane")
    stored(index, push(index, FLASH.replace('"marketing"', '"transactional"'), "ana", NOW, publish=True))
    [out] = check(event, {}, NOW, rules=rules)  # v2, now the published one, is transactional
    assert out.topic == "consent-checked" and out.value["consent_basis"] == "transactional:flash"


def test_a_request_naming_a_marketing_version_is_refused_on_the_transactional_lane_whatever_the_latest_says(
        request_event: Callable[..., dict[str, Any]]) -> None:
    index = TemplateIndex(compile=False)  # as the consent process holds the store: purposes only
    rules = rules_from_settings(Settings(quiet_hours_enabled=False), index)
    stored(index, push(index, FLASH, "ana", NOW, publish=True))  # v1: marketing
    stored(index, push(index, FLASH.replace('"marketing"', '"transactional"'), "ana", NOW, publish=True))  # v2
    pinned = check(request_event(template_id="flash", template_version=1, variables={"code": "1"}), {}, NOW, rules=rules)
    assert (pinned[0].value["status"], pinned[0].value["reason"]) == ("REJECTED", "marketing_template_on_transactional_lane")
    [latest] = check(request_event(template_id="flash", template_version=2, variables={"code": "1"}), {}, NOW, rules=rules)
    assert latest.topic == "consent-checked"
