"""``POST /v1/consent`` on the intake: opt-ins and opt-outs with their evidence (scope ``consent:write``), in batches.

The body is ``{"changes": [...]}``, 1 to ``MAX_CHANGES`` ``ConsentRecord`` objects (``processors.rules.consent_evidence``).
All or nothing at the door: one invalid change refuses the whole batch (422, each problem's ``field`` naming the
item, ``changes.3.number``), so a caller never has to work out which half went in. An accepted batch is written to
``consent`` and ``consent-history`` before the answer (202 ``{"recorded": n}``); when Kafka did not take every
record the answer is 503 and the caller sends the same batch again: recording a change twice changes no state,
and ``courrier consent history`` shows it once.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from common.config import Settings
from processors.rules.consent_evidence import ConsentRecord, change, future, outputs
from processors.runtime.publisher import Publisher
from processors.web.errors import ErrorBody, Problem
from processors.web.requests import caller, json_body, openapi_body

log = logging.getLogger(__name__)
PATH = "/v1/consent"
MAX_CHANGES = 1_000
TOPICS = ("consent", "consent-history")


class ConsentBatch(BaseModel):
    """Opt-ins and opt-outs to record, each with its evidence."""

    model_config = ConfigDict(extra="forbid")

    changes: list[ConsentRecord] = Field(min_length=1, max_length=MAX_CHANGES, description="1 to 1,000 changes, all or none recorded.")


class ConsentRecorded(BaseModel):
    """How many changes were written (each to ``consent`` and ``consent-history``)."""

    recorded: int


class ConsentWriter:
    """The publisher of recorded changes; started and closed by the intake's lifespan."""

    def __init__(self, settings: Settings, timeout_s: float) -> None:
        self._publisher = Publisher(settings, timeout_s)

    def start(self) -> None:
        self._publisher.start(TOPICS)

    def close(self) -> None:
        self._publisher.close()

    def record(self, batch: ConsentBatch, recorded_by: str, now: datetime) -> JSONResponse:
        """Write every change of ``batch`` (422 when one is dated in the future, 503 when Kafka did not take one)."""
        late = [Problem(code="changed_at_in_future", message=reason, field=f"changes.{index}.changed_at")
                for index, record in enumerate(batch.changes) if (reason := future(record, now)) is not None]
        if late:
            return _error(422, late)
        records = [output for record in batch.changes for output in outputs(change(record, recorded_by))]
        errors = [error for error in self._publisher.publish(records) if error is not None]
        if errors:
            log.warning("consent changes not all written", extra={"failed": len(errors), "records": len(records)})
            return _error(503, [Problem(code="unavailable", message=f"{len(errors)} of {len(records)} records were not written to "
                                                                    f"Kafka ({errors[0]}); send the same batch again")])
        return JSONResponse(ConsentRecorded(recorded=len(batch.changes)).model_dump(), status_code=202)


def add_route(route: Callable[..., None], writer: ConsentWriter) -> None:
    """Declare ``POST /v1/consent`` through the intake's ``route`` (guard, scope, OpenAPI)."""
    def record_consent(request: Request, batch: ConsentBatch = Depends(json_body(ConsentBatch))) -> JSONResponse:
        """Record opt-ins and opt-outs with their evidence; all or none."""
        return writer.record(batch, caller(request), datetime.now(timezone.utc))

    responses: dict[int | str, dict[str, Any]] = {
        413: {"model": ErrorBody, "description": "Body over the size cap."},
        400: {"model": ErrorBody, "description": "A body that is not UTF-8 (invalid_encoding) or nests too deep (too_deep)."},
        422: {"model": ErrorBody, "description": "A change breaks a rule, nothing recorded; `field` names it (`changes.3.number`): "
                                                 "an invalid number, an opt-in without text_shown or a trace (ip_address, "
                                                 "inbound_message_id, evidence), `changed_at_in_future`, a field's type or bound."},
        503: {"model": ErrorBody, "description": "Kafka did not take every record; send the same batch again (safe)."},
    }
    route("POST", PATH, record_consent, status_code=202, response_model=ConsentRecorded, responses=responses,
          openapi_extra=openapi_body(ConsentBatch))


def _error(status: int, problems: list[Problem]) -> JSONResponse:
    return JSONResponse(ErrorBody(errors=problems).model_dump(exclude_none=True), status_code=status)
