"""``POST /v1/test-sends`` on the intake (scope ``templates:write``): a template to the team's test numbers.

202 with each number's message id (``GET /v1/messages/{id}`` follows it; every receipt carries ``context.test``);
422 ``not_a_test_number`` naming every number that is not on the test list (nothing sent); 503 when Kafka did not take
every record (send again: test sends have no idempotency key, so a retry may send twice — to the team's own phones).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.config import Settings
from processors.rules.test_sends import REASON, parse_test_numbers
from processors.runtime.publisher import Publisher
from processors.testsends.logic import TestSendError, recipients, request
from processors.web.errors import ApiError, ErrorBody
from processors.web.requests import api_key_id, json_body, openapi_body

PATH = "/v1/test-sends"
MAX_NUMBERS = 20
POLICIES = {"sms": "SMS", "mms": "MMS", "rcs_only": "RCS_ONLY", "rcs_with_sms_fallback": "RCS_WITH_SMS_FALLBACK"}


class TestSendRequest(BaseModel):
    """A template, the test numbers to send it to, its variables and channel policy."""

    model_config = ConfigDict(extra="forbid")

    template_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    to: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = Field(min_length=1, max_length=MAX_NUMBERS,
                                                                                      description="Numbers of the test list, E.164.")
    variables: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Annotated[str, StringConstraints(max_length=1000)]] = Field(
        default_factory=dict, max_length=100)
    channel_policy: Literal["sms", "mms", "rcs_only", "rcs_with_sms_fallback"] = "rcs_with_sms_fallback"


class TestSendMessage(BaseModel):
    to: str
    message_id: str


class TestSendAccepted(BaseModel):
    """One message per number, each marked test in every receipt."""

    messages: list[TestSendMessage]


class TestSender:
    """Publishes test sends; ``start``/``close`` with the intake's lifespan (``publish`` replaces Kafka in tests)."""

    def __init__(self, settings: Settings, timeout_s: float, publish: Callable[[list[Any]], list[str | None]] | None = None) -> None:
        self._test_numbers = parse_test_numbers(settings.test_numbers)
        self._publisher = Publisher(settings, timeout_s) if publish is None else None
        self._publish = publish or self._publisher.publish  # type: ignore[union-attr]

    def start(self) -> None:
        if self._publisher is not None:
            self._publisher.start(("send-requested",))

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()

    def send(self, body: TestSendRequest, api_key_id: str | None, now: datetime) -> TestSendAccepted:
        """Publish one test send per number (``ApiError`` 422 when one is not on the list, 503 when not written)."""
        try:
            numbers = recipients(body.to, self._test_numbers)
        except TestSendError as exc:
            raise ApiError(422, REASON, str(exc)) from None
        outputs = [request(body.template_id, e164, body.variables, POLICIES[body.channel_policy], now, api_key_id) for e164 in numbers]
        errors = [e for e in self._publish(outputs) if e is not None]
        if errors:
            raise ApiError(503, "unavailable", f"{len(errors)} of {len(outputs)} test sends were not written to Kafka ({errors[0]})")
        return TestSendAccepted(messages=[TestSendMessage(to=o.key, message_id=o.value["context"]["message_id"]) for o in outputs])


def add_route(route: Callable[..., None], sender: TestSender) -> None:
    """Declare ``POST /v1/test-sends`` through the intake's ``route`` (guard, scope, OpenAPI)."""
    def test_send(request: Request, body: TestSendRequest = Depends(json_body(TestSendRequest))) -> JSONResponse:
        """Send a template to test numbers, marked as test in every receipt."""
        accepted = sender.send(body, api_key_id(request), datetime.now(timezone.utc))
        return JSONResponse(accepted.model_dump(), status_code=202)

    responses: dict[int | str, dict[str, Any]] = {
        422: {"model": ErrorBody, "description": "`not_a_test_number` (the numbers not on COURRIER_TEST_NUMBERS), or a field breaking its rule."},
        400: {"model": ErrorBody, "description": "A body that is not UTF-8 (invalid_encoding) or nests too deep (too_deep)."},
        413: {"model": ErrorBody, "description": "Body over the size cap."},
        503: {"model": ErrorBody, "description": "Kafka did not take every test send."},
    }
    route("POST", PATH, test_send, status_code=202, response_model=TestSendAccepted, responses=responses,
          openapi_extra=openapi_body(TestSendRequest))
