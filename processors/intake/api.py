"""The HTTP intake as a FastAPI app: one message, a batch of up to 1,000, and a health check.

Answers: 202 ``{"message_id"}`` for a new message; 200 with the first ``message_id`` and
``Idempotent-Replayed: true`` for an idempotency key seen within the window; 401/403/429 from the
API-key guard (``processors.access``), judged before the body is read; 403 ``country_not_allowed`` for a
recipient outside the key's countries (``courrier keys create --countries``); 413 for a body over the cap; 400
for a body that is not UTF-8 or nests too deep (``processors.web.bodies``); 422 naming the
fields, the missing variables or the known templates; 503 when Kafka did not take the message; 500
``internal_error`` for a message that could not be checked (a bug; nothing sent, its key left free). A
batch answers 207 with one such result per item, so the caller knows which items went through: only
those answered 202 or 200 carry a message id, and only published ids are ever answered. Every refusal
has the one ``{"errors": [...]}`` shape (``processors.web.errors``), Starlette's own 404/405 included.

The body is read by ``processors.web.requests.json_body``, after the guard (see there why).
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from common.config import Settings
from processors.providers.deployment import current
from processors.rules.prices import load_prices
from processors.access.guard import AccessDenied, KeyGuard, denied_response
from processors.access.scopes import required_scope  # SCOPES there: the one table of every HTTP endpoint's scope
from processors.conversions.api import add_route as add_conversion_route
from processors.conversions.desk import ConversionDesk
from processors.dashboard.app import add_dashboard
from processors.intake.consent_api import ConsentWriter, add_route as add_consent_route
from processors.runtime.publisher import Publisher
from processors.studio.app import add_pages as add_studio_pages
from processors.templates_store.api import TemplateWriter, add_routes as add_template_routes
from processors.intake.callbacks import CallbackCheck
from processors.intake.limits import BodySizeLimit
from processors.intake.models import (BatchItemResult, BatchRequest, BatchResponse, ErrorBody, MessageAccepted, MessageRequest,
                                      Problem)
from processors.intake.service import Accepted, IntakeService, Refused
from processors.intake.settings import IntakeSettings
from processors.status.api import add_routes as add_status_routes
from processors.testsends.api import TestSender, add_route as add_test_send_route
from processors.status.reader import StatusReader
from processors.web import errors as web_errors
from processors.web.metrics import serve_metrics
from processors.web.requests import api_key_countries, api_key_id, json_body

log = logging.getLogger(__name__)
REPLAYED_HEADER = "Idempotent-Replayed"
# Given a scope, a FastAPI dependency that lets the request through or raises (401/403/429…).
Guard = Callable[[str], Callable[..., Any]]
_GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or an unknown, wrong or revoked one (WWW-Authenticate says which)."},
    429: {"model": ErrorBody, "description": "The key is over its rate limit; Retry-After says when to try again."},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A body that is not UTF-8 (invalid_encoding) or nests too deep (too_deep)."},
    413: {"model": ErrorBody, "description": "Body over the size cap."},
    422: {"model": ErrorBody, "description": (
        "The request breaks a rule; `code` says which: a field's type or bound (pydantic's type, e.g. `missing`, "
        "`string_too_long`; a marketing message without `subscription_group`; `sms_fallback_after_s` without "
        "`channel_policy` `rcs_with_sms_fallback`), `json_invalid`, `unknown_template` (`known_templates` lists them), "
        "`unknown_template_version`, `template_version_draft` (a version that is not published is never sent), "
        "`missing_variables` (`missing_variables` names them), `render_failed`, `invalid_number`, "
        "`number_type_cannot_receive_sms`, `unknown_region`, `invalid_time_zone`, `reserved_idempotency_key`, "
        "`idempotency_key_conflict`, `callback_url_refused` (a status_callback inside the network), `callback_needs_api_key`, "
        "`no_callback_secret`, `callback_url_unresolved`.")},
    503: {"model": ErrorBody, "description": "Kafka did not take the message; retry with the same idempotency key."},
    500: {"model": ErrorBody, "description": "The message could not be checked (internal_error, logged); nothing was sent and its "
                                             "idempotency key is free."},
}


def create_app(settings: Settings, intake: IntakeSettings | None = None, guard: Guard | None = None, *,
               insecure_no_auth: bool | None = None, status: StatusReader | None = None,
               conversions: ConversionDesk | None = None, test_sends: TestSender | None = None) -> FastAPI:
    """The intake app for ``settings``; its lifespan loads the idempotency and API-key tables and closes the producer.

    Routes need an API key (a ``KeyGuard`` following ``api-keys``) unless another ``guard`` is given or
    ``insecure_no_auth`` (default: the ``insecure_no_auth`` setting) turns access control off, which is logged.
    ``status`` replaces the reader of ``message-status`` and ``campaign-status`` behind the GET routes (tests),
    ``conversions`` the desk behind ``POST /v1/conversions``, ``test_sends`` the publisher behind ``POST /v1/test-sends``.
    """
    intake = intake or IntakeSettings()
    service = IntakeService(settings, intake)
    status = status or StatusReader(settings)
    prices = current(settings).prices or load_prices()  # the studio's estimated costs, as receipts count them
    consent = ConsentWriter(settings, intake.publish_timeout_s)
    templates = TemplateWriter(service.templates, Publisher(settings, intake.publish_timeout_s))
    conversions = conversions or ConversionDesk(settings, status.message, timedelta(days=settings.conversion_window_days),
                                                intake.publish_timeout_s)
    test_sends = test_sends or TestSender(settings, intake.publish_timeout_s)
    insecure = settings.insecure_no_auth if insecure_no_auth is None else insecure_no_auth
    if guard is None and not insecure:
        guard = KeyGuard(settings)
    keys = guard if isinstance(guard, KeyGuard) else None
    callbacks = CallbackCheck(keys.record if keys is not None else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if guard is None:
            log.warning("access control is OFF: every HTTP request is accepted without an API key (insecure_no_auth); "
                        "never expose this instance beyond this machine")
        service.start()
        status.start()
        consent.start()
        templates.start()
        conversions.start()
        test_sends.start()
        if keys is not None:
            keys.start()
        try:
            yield
        finally:
            if keys is not None:
                keys.close()
            status.close()
            consent.close()
            templates.close()
            conversions.close()
            test_sends.close()
            service.close()

    app = FastAPI(title="Courrier intake", version="1", lifespan=lifespan)
    serve_metrics(app)
    app.state.service = service
    app.state.guard = guard
    app.add_middleware(BodySizeLimit, max_bytes=intake.max_body_bytes)
    app.add_exception_handler(AccessDenied, denied_response)
    web_errors.install(app)

    @app.exception_handler(RequestValidationError)
    async def validation_failed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _problems(list(exc.errors())))

    def route(method: str, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        scope = required_scope(method, path)
        if guard is None or scope is None:
            app.add_api_route(path, endpoint, methods=[method], **options)
            return
        responses = {**_GUARDED, 403: {"model": ErrorBody, "description": f"The API key lacks the scope `{scope}` (or `admin`)."},
                     **options.pop("responses", {})}
        extra = {"x-required-scope": scope, **options.pop("openapi_extra", {})}
        app.add_api_route(path, endpoint, methods=[method], dependencies=[Depends(guard(scope))], responses=responses,
                          openapi_extra=extra, **options)

    def send_one(request: Request, message: MessageRequest = Depends(json_body(MessageRequest)),
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=255)) -> JSONResponse:
        """Send one message; ``Idempotency-Key`` (header) and ``idempotency_key`` (body) are the same thing."""
        if idempotency_key is not None and message.idempotency_key not in (None, idempotency_key):
            problem = Problem(code="idempotency_key_conflict", message="the Idempotency-Key header and the body's idempotency_key differ",
                              field="idempotency_key")
            return _error(422, [problem])
        if idempotency_key is not None:
            message = message.model_copy(update={"idempotency_key": idempotency_key})
        checked = callbacks.apply(api_key_id(request), [message])[0]
        if isinstance(checked, Problem):
            return _error(422, [checked])
        result = service.submit([checked], api_key_id(request), api_key_countries(request))[0]
        if isinstance(result, Refused):
            return _error(result.status, result.problems)
        body = MessageAccepted(message_id=result.message_id).model_dump()
        if result.replayed:
            return JSONResponse(body, status_code=200, headers={REPLAYED_HEADER: "true"})
        return JSONResponse(body, status_code=202)

    def send_batch(request: Request, batch: BatchRequest = Depends(json_body(BatchRequest))) -> JSONResponse:
        """Send up to 1,000 messages; each item is judged on its own and answered at its index (207)."""
        if keys is not None:  # the guard took one token for the request; the key pays for every message
            keys.debit(request, len(batch.messages) - 1)
        results: dict[int, BatchItemResult] = {}
        valid: list[tuple[int, MessageRequest]] = []
        for index, item in enumerate(batch.messages):
            try:
                valid.append((index, MessageRequest.model_validate(item)))
            except ValidationError as exc:
                results[index] = BatchItemResult(index=index, status=422, errors=_problems(exc.errors()))
        checked = callbacks.apply(api_key_id(request), [m for _, m in valid])
        for (index, _), outcome in zip(valid, checked):
            if isinstance(outcome, Problem):
                results[index] = BatchItemResult(index=index, status=422, errors=[outcome])
        valid = [(index, outcome) for (index, _), outcome in zip(valid, checked) if isinstance(outcome, MessageRequest)]
        for (index, _), outcome in zip(valid, service.submit([m for _, m in valid], api_key_id(request), api_key_countries(request))):
            results[index] = _item(index, outcome)
        response = BatchResponse(results=[results[i] for i in range(len(batch.messages))])
        return JSONResponse(response.model_dump(exclude_none=True), status_code=207)

    def healthz() -> dict[str, Any]:
        """Alive, with the loaded templates and idempotency keys."""
        return {"status": "ok", "templates": len(service.templates), "idempotency_keys": service.idempotency_keys_loaded()}

    route("POST", "/v1/messages", send_one, status_code=202, response_model=MessageAccepted,
          responses={200: {"model": MessageAccepted, "description": f"Replay of an idempotency key ({REPLAYED_HEADER}: true)."}, **_ERRORS,
                     403: {"model": ErrorBody, "description": "The API key lacks the scope `messages:send` (or `admin`), or may not "
                                                              "send to the recipient's country (`country_not_allowed`)."}},
          openapi_extra=_request_body(MessageRequest))
    route("POST", "/v1/messages/batch", send_batch, status_code=207, response_model=BatchResponse, responses=_ERRORS,
          openapi_extra=_request_body(BatchRequest))
    route("GET", "/healthz", healthz)
    add_status_routes(route, status, keys.record if keys is not None else None)
    add_consent_route(route, consent)
    add_template_routes(route, templates)
    add_studio_pages(app, guard, templates, lambda: prices)
    add_conversion_route(route, conversions)
    add_test_send_route(route, test_sends)
    add_dashboard(app, guard, status.campaign_rows)
    return app


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a message route whose body ``json_body`` reads; its nested models are referenced
    from the document's components (``#/components/schemas``)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _item(index: int, outcome: Accepted | Refused) -> BatchItemResult:
    if isinstance(outcome, Refused):
        return BatchItemResult(index=index, status=outcome.status, errors=outcome.problems)
    return BatchItemResult(index=index, status=200 if outcome.replayed else 202, message_id=outcome.message_id, replayed=outcome.replayed)


def _problems(errors: list[ErrorDetails]) -> list[Problem]:
    """pydantic's errors as problems naming the field (``variables.code``), never echoing the input."""
    found = []
    for error in errors:
        field = ".".join(str(part) for part in error["loc"] if part != "body") or None
        found.append(Problem(code=error["type"], message=f"{field}: {error['msg']}" if field else error["msg"], field=field))
    return found


def _error(status: int, problems: list[Problem]) -> JSONResponse:
    return JSONResponse(ErrorBody(errors=problems).model_dump(exclude_none=True), status_code=status)
