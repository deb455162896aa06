"""The probes of issue 20 against the intake, without a broker: the key is judged before the body, every refusal has the
``{"errors"}`` shape, and a body that is not UTF-8 or nests too deep is a 400, never a 500 or a ``{"detail"}``."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from common.config import Settings
from processors.access.guard import KeyGuard
from processors.access.keys import new_key
from processors.intake.api import create_app

NOW = datetime(2030, 1, 2, tzinfo=timezone.utc)
SENDER = new_key("billing", ("messages:send",), NOW)
settings = Settings()
guarded = TestClient(create_app(settings, guard=KeyGuard(settings, keys={SENDER.key_id: SENDER.record})))  # no lifespan: no Kafka
KEY = {"Authorization": f"Bearer {SENDER.key}"}
JSON = {"Content-Type": "application/json"}
DEEP = b'{"template_id": "otp", "recipient": "+33612345678", "variables": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
NOT_UTF8 = b'{"template_id": "otp", "recipient": "\xff\xfe+33612345678"}'


def codes(answer) -> list[str]:
    assert set(answer.json()) == {"errors"}, answer.json()
    return [problem["code"] for problem in answer.json()["errors"]]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/batch"])
@pytest.mark.parametrize("body", [b"{not json", b"", NOT_UTF8, DEEP])
def test_without_a_key_any_body_is_401(path: str, body: bytes) -> None:
    answer = guarded.post(path, content=body, headers=JSON)
    assert answer.status_code == 401 and codes(answer) == ["missing_api_key"]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/batch"])
def test_with_a_key_malformed_json_is_422_json_invalid(path: str) -> None:
    answer = guarded.post(path, content=b"{not json", headers=KEY | JSON)
    assert answer.status_code == 422 and codes(answer) == ["json_invalid"]


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/batch"])
@pytest.mark.parametrize(("body", "code"), [(NOT_UTF8, "invalid_encoding"), (DEEP, "too_deep")])
def test_with_a_key_an_unreadable_body_is_400_in_the_error_shape(path: str, body: bytes, code: str) -> None:
    answer = guarded.post(path, content=body, headers=KEY | JSON)
    assert answer.status_code == 400 and codes(answer) == [code]


def test_a_shallow_body_still_reaches_validation() -> None:
    answer = guarded.post("/v1/messages", json={"template_id": "otp"}, headers=KEY)
    assert answer.status_code == 422 and "missing" in codes(answer)


def test_starlette_refusals_have_the_error_shape() -> None:
    assert guarded.get("/v1/nothing-here").status_code == 404 and codes(guarded.get("/v1/nothing-here")) == ["not_found"]
    answer = guarded.get("/v1/messages")
    assert answer.status_code == 405 and codes(answer) == ["method_not_allowed"]
