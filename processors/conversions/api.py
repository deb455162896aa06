"""``POST /v1/conversions`` on the intake (scope ``conversions:write``): attribute a conversion, count it once.

201 with the attribution (message, campaign, variant, button); 200 with the first result for a conversion id already
recorded (``Idempotent-Replayed: true``); 404 naming the unknown message or token; 422 for a conversion outside the
attribution window (or before the message, or in the future) and for a body that breaks a rule; 503 when Kafka did not
take it (send it again, same ``conversion_id``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends
from fastapi.responses import JSONResponse

from processors.conversions.desk import ConversionDesk
from processors.conversions.models import ConversionRecorded, ConversionRequest
from processors.web.errors import ErrorBody
from processors.web.requests import json_body, openapi_body

PATH = "/v1/conversions"
REPLAYED_HEADER = "Idempotent-Replayed"


def add_route(route: Callable[..., None], desk: ConversionDesk) -> None:
    """Declare ``POST /v1/conversions`` through the intake's ``route`` (guard, scope, OpenAPI)."""
    def report_conversion(request: ConversionRequest = Depends(json_body(ConversionRequest))) -> JSONResponse:
        """Attribute a conversion to its message, campaign, variant and button, once per conversion_id."""
        recorded, new = desk.record(request)
        body = recorded.model_dump(mode="json")
        return JSONResponse(body, status_code=201) if new else JSONResponse(body, status_code=200, headers={REPLAYED_HEADER: "true"})

    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": ConversionRecorded, "description": f"This conversion_id was recorded before: its first result ({REPLAYED_HEADER}: true)."},
        404: {"model": ErrorBody, "description": "No such message (`unknown_message`) or short link (`unknown_link_token`)."},
        422: {"model": ErrorBody, "description": "`outside_window` (later than the attribution window after the message left), "
                                                 "`before_message`, `occurred_in_future`, `link_of_another_message`, or a field breaking its rule."},
        400: {"model": ErrorBody, "description": "A body that is not UTF-8 (invalid_encoding) or nests too deep (too_deep)."},
        413: {"model": ErrorBody, "description": "Body over the size cap."},
        503: {"model": ErrorBody, "description": "Kafka did not take it; send it again with the same conversion_id."},
    }
    route("POST", PATH, report_conversion, status_code=201, response_model=ConversionRecorded, responses=responses,
          openapi_extra=openapi_body(ConversionRequest))
