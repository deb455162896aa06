"""A template's declared purpose: marketing templates are refused on the transactional lane, and a transactional send
names its basis (the template) explicitly."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from processors.consent.logic import Rules, check
from processors.rules.templates import TemplateInvalid, compile_source
from processors.rules.purposes import marketing_templates

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
OPTED_IN = {"+33612345678|promotions": {"e164": "+33612345678", "subscription_group": "promotions", "status": "OPTED_IN",
                                         "basis": "MARKETING", "source": "form", "evidence": None, "changed_at": NOW}}


def test_the_bundled_marketing_templates_are_declared() -> None:
    assert marketing_templates() == frozenset({"promo_spring"})


def test_a_marketing_template_on_the_transactional_lane_is_rejected_with_its_reason(
        request_event: Callable[..., dict[str, Any]]) -> None:
    [out] = check(request_event(template_id="promo_spring", variables={"first_name": "Léa"}), OPTED_IN, NOW,
                  rules=Rules(quiet_hours=None))
    assert (out.topic, out.value["status"], out.value["reason"]) == ("receipt", "REJECTED", "marketing_template_on_transactional_lane")
    assert "marketing lane" in out.value["detail"]


def test_on_the_marketing_lane_it_relies_on_the_opt_in(request_event: Callable[..., dict[str, Any]]) -> None:
    outputs = check(request_event(template_id="promo_spring", lane="MARKETING", subscription_group="promotions"), OPTED_IN, NOW,
                    rules=Rules(quiet_hours=None))
    checked = next(o for o in outputs if o.topic == "consent-checked")
    assert checked.value["consent_basis"] == f"opt-in:form@{NOW.isoformat()}"


def test_a_transactional_send_names_its_template_as_its_basis(request_event: Callable[..., dict[str, Any]]) -> None:
    [out] = check(request_event(template_id="order_shipped"), {}, NOW, rules=Rules(quiet_hours=None))
    assert out.value["consent_basis"] == "transactional:order_shipped"


def test_purposes_are_read_from_a_folder_and_a_bad_purpose_is_refused_by_render(tmp_path: Path) -> None:
    (tmp_path / "flash.toml").write_text('id = "flash"\npurpose = "marketing"\n[sms]\ndefault = "Sale!"\n', encoding="utf-8")
    (tmp_path / "code.toml").write_text('id = "code"\npurpose = "transactional"\n[sms]\ndefault = "{{ code }}"\n', encoding="utf-8")
    (tmp_path / "broken.toml").write_text("purpose = ", encoding="utf-8")
    assert marketing_templates(tmp_path) == frozenset({"flash"})
    with pytest.raises(TemplateInvalid, match="purpose: must be one of marketing, transactional"):
        compile_source('id = "x"\npurpose = "newsletter"\n[sms]\ndefault = "Hi"\n', "x")
