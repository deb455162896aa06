"""A request may name a template version: refused at the door when it is missing or a draft, carried on send-requested."""
from __future__ import annotations

from datetime import datetime, timezone

from fastavro.validation import validate

import schemas
from processors.intake.logic import problems, send_requested
from processors.intake.models import MessageRequest
from processors.templates_store.changes import publish, push
from processors.rules.template_versions import TemplateIndex

NOW = datetime(2026, 12, 7, 9, tzinfo=timezone.utc)
V1 = 'id = "otp"\npurpose = "transactional"\n[sms]\ndefault = "Code {{ code }}"\n[sample]\ncode = "1"\n'


def store() -> TemplateIndex:
    """otp v1 published, v2 a draft."""
    index = TemplateIndex()
    for change in (lambda: push(index, V1, "ana", NOW), lambda: publish(index, "otp", 1, "bo", NOW),
                   lambda: push(index, V1.replace("Code", "Your code"), "ana", NOW)):
        outcome = change()
        index.take(outcome.key, outcome.value)  # type: ignore[union-attr]
    return index


def request(**fields: object) -> MessageRequest:
    return MessageRequest.model_validate({"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "42"}, **fields})


def test_a_published_version_or_none_is_accepted_and_carried() -> None:
    templates = store()
    assert problems(request(), templates) == [] and problems(request(template_version=1), templates) == []
    value = send_requested(request(template_version=1), "m-1", NOW, "test").value
    assert value["template_version"] == 1
    validate(value, schemas.parsed_schema("SendRequested"), raise_errors=True)
    assert send_requested(request(), "m-1", NOW, "test").value["template_version"] is None


def test_a_draft_or_missing_version_is_refused_naming_the_field() -> None:
    templates = store()
    (draft,) = problems(request(template_version=2), templates)
    assert (draft.code, draft.field) == ("template_version_draft", "template_version") and "is a draft" in draft.message
    (missing,) = problems(request(template_version=3), templates)
    assert (missing.code, missing.field) == ("unknown_template_version", "template_version")
    (unknown,) = problems(request(template_id="nope"), templates)
    assert (unknown.code, unknown.field, unknown.known_templates) == ("unknown_template", "template_id", ["otp"])
