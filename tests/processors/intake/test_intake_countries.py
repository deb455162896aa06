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


def test_the_api_answers_403_for_a_recipient_outside_the_keys_countries_and_per_item_in_a_batch() -> None:
    from datetime import datetime, timezone

    from fastapi.testclient import TestClient

    from common.config import Settings
    from processors.access.guard import KeyGuard
    from processors.access.keys import new_key
    from processors.intake.api import create_app

    nordic = new_key("nordic-app", ("messages:send",), datetime(2030, 1, 2, tzinfo=timezone.utc), countries=("SE",))
    settings = Settings()
    client = TestClient(create_app(settings, guard=KeyGuard(settings, keys={nordic.key_id: nordic.record})))  # no lifespan: no Kafka
    headers = {"Authorization": f"Bearer {nordic.key}"}
    france = {"template_id": "otp", "recipient": "+33612345678", "variables": {"code": "123456"}}
    sweden_unknown = {"template_id": "no-such-template", "recipient": "+46701234567"}
    refused = client.post("/v1/messages", json=france, headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"code": "country_not_allowed", "field": "recipient",
                                          "message": "this API key may send to SE only, not to FR"}]}
    let_through = client.post("/v1/messages", json=sweden_unknown, headers=headers)
    assert let_through.status_code == 422 and let_through.json()["errors"][0]["code"] == "unknown_template"
    batch = client.post("/v1/messages/batch", json={"messages": [france, sweden_unknown]}, headers=headers)
    assert batch.status_code == 207 and [r["status"] for r in batch.json()["results"]] == [403, 422]
    assert "country_not_allowed" in client.get("/openapi.json").json()["paths"]["/v1/messages"]["post"]["responses"]["403"]["description"]
