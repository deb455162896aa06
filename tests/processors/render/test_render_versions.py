"""Render reads the template store: the version a request names (never a draft), else the latest published."""
from __future__ import annotations

from datetime import datetime, timezone

from processors.render.stage import RenderStage
from processors.runtime.stage import RecordMeta
from processors.templates_store.changes import publish, push
from processors.rules.template_versions import TemplateIndex

NOW = datetime(2026, 3, 2, 9, 2, tzinfo=timezone.utc)
META = RecordMeta(topic="channel-resolved", partition=0, offset=0, key="k", now=NOW)
V1 = 'id = "otp"\npurpose = "transactional"\n[sms]\ndefault = "Code {{ code }}"\n[sample]\ncode = "1"\n'
V2 = 'id = "otp"\npurpose = "transactional"\n[sms]\ndefault = "Your code: {{ code }}"\n[sample]\ncode = "1"\n'


def store(*, publish_v2: bool) -> TemplateIndex:
    index = TemplateIndex()
    for source in (V1, V2):
        out = push(index, source, "ana", NOW)
        assert not isinstance(out, list)
        index.take(out.key, out.value)
    for version in (1, 2) if publish_v2 else (1,):
        out = publish(index, "otp", version, "bo", NOW)
        index.take(out.key, out.value)  # type: ignore[union-attr]
    return index


def text(outputs: list) -> str:
    (out,) = outputs
    return out.value["sms"]["text"]


def test_the_latest_published_version_or_the_one_named(resolved_event, assert_valid) -> None:
    stage = RenderStage(templates=store(publish_v2=True))
    assert text(stage.process(resolved_event(), META)) == "Your code: 123456"
    named = resolved_event(template_version=1)
    out = stage.process(named, META)
    assert_valid(out[0])
    assert text(out) == "Code 123456"


def test_a_request_naming_a_draft_is_rejected_with_the_reason(resolved_event, assert_valid) -> None:
    stage = RenderStage(templates=store(publish_v2=False))
    assert text(stage.process(resolved_event(), META)) == "Code 123456"  # v2 is a draft: v1 is sent
    (out,) = stage.process(resolved_event(template_version=2), META)
    assert_valid(out)
    assert (out.topic, out.value["status"], out.value["reason"]) == ("receipt", "REJECTED", "template_version_draft")
    assert "version 2 is a draft" in out.value["detail"]
    (unknown,) = stage.process(resolved_event(template_version=5), META)
    assert unknown.value["reason"] == "unknown_template_version"
