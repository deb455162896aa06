"""A key's country allow-list at the intake: a recipient elsewhere is 403 ``country_not_allowed`` naming the country."""
from __future__ import annotations

from processors.intake.models import MessageRequest
from processors.intake.service import _outside


def request(recipient: str, region: str | None = None) -> MessageRequest:
    return MessageRequest.model_validate({"template_id": "otp", "recipient": recipient, "variables": {"code": "1"},
                                          "default_region": region})


def test_a_recipient_inside_the_list_or_a_key_without_one_passes() -> None:
    assert _outside(request("+46701234567"), ("FR", "SE")) is None
    assert _outside(request("0612345678", "FR"), ("FR",)) is None
    assert _outside(request("+33612345678"), None) is None
    assert _outside(request("+33612345678"), ()) is None


def test_a_recipient_elsewhere_is_403_naming_its_country_and_the_list() -> None:
    refused = _outside(request("+33612345678"), ("SE",))
    assert refused is not None and refused.status == 403
    problem = refused.problems[0]
    assert (problem.code, problem.field) == ("country_not_allowed", "recipient")
    assert "SE only, not to FR" in problem.message


def test_an_invalid_number_is_left_to_the_number_check() -> None:
    assert _outside(request("+3361"), ("SE",)) is None
