"""The template store over HTTP on the intake: ``/v1/templates`` (scopes ``templates:read`` / ``templates:write``).

``GET /v1/templates`` lists ids with their latest and published versions; ``GET /v1/templates/{id}`` an id's history;
``GET /v1/templates/{id}/versions/{n}`` one version with its TOML text; ``POST /v1/templates`` stores a text as its
id's next version (a draft unless ``publish``; 422 with every issue, each ``field`` the template path it is at, and
nothing stored); ``POST /v1/templates/{id}/versions/{n}/publish`` publishes a version. Writes return once Kafka
acknowledged them (503 otherwise: send again) and are applied to this instance's index at once, so the next read
sees them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from processors.rules.issues import Issue
from processors.runtime.publisher import Publisher
from processors.runtime.stage import Event, Output
from processors.templates_store import changes
from processors.rules.template_versions import TOPIC, PUBLISHED, Refused, TemplateIndex
from processors.web.errors import ErrorBody, Problem
from processors.web.requests import caller, json_body

MAX_SOURCE = 64_000


class TemplatePush(BaseModel):
    """A template's TOML text to store as its next version."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=MAX_SOURCE, description="The template's TOML text; its `id` names the template.")
    note: str | None = Field(None, max_length=500, description="What changed in this version.")
    publish: bool = Field(False, description="Publish the new version at once (else it is a draft, never sent).")


class TemplateVersionOut(BaseModel):
    """One stored version: who made it and when, whether it may be sent, and (on a version's own page) its text."""

    template_id: str
    version: int
    status: Literal["DRAFT", "PUBLISHED"]
    note: str | None = None
    created_by: str
    created_at: datetime
    published_by: str | None = None
    published_at: datetime | None = None
    source: str | None = None


class TemplateSummary(BaseModel):
    """A template id with its newest version and the version sent by default (None: only drafts)."""

    template_id: str
    latest: int
    published: int | None


class TemplateList(BaseModel):
    templates: list[TemplateSummary]


class TemplateHistory(BaseModel):
    template_id: str
    versions: list[TemplateVersionOut]


def version_out(row: Event, *, with_source: bool = False) -> TemplateVersionOut:
    """The API's view of a stored row."""
    return TemplateVersionOut(**{k: v for k, v in row.items() if k != "source"}, source=row["source"] if with_source else None)


def summaries(index: TemplateIndex) -> list[TemplateSummary]:
    """Every id with its latest and latest published version numbers."""
    found = []
    for template_id in index.ids():
        versions = index.versions(template_id)
        live = [v for v, row in versions.items() if row["status"] == PUBLISHED]
        found.append(TemplateSummary(template_id=template_id, latest=max(versions), published=max(live, default=None)))
    return found


class TemplateWriter:
    """Writes pushes and publishes to ``templates`` one at a time (so two pushes never take one number) and applies each
    to ``index`` once acknowledged; started and closed by the intake's lifespan."""

    def __init__(self, index: TemplateIndex, publisher: Publisher) -> None:
        """``publisher``: the intake's kind (``Publisher(settings, timeout_s)``), or any object with its start, close
        and publish (tests)."""
        self._publisher = publisher
        self.index = index
        self._lock = threading.Lock()

    def start(self) -> None:
        self._publisher.start((TOPIC,))

    def close(self) -> None:
        self._publisher.close()

    def push(self, source: str, author: str, note: str | None, publish: bool) -> Output | list[Issue] | str:
        """The stored record, the issues refusing the text (nothing written), or why Kafka did not take it."""
        with self._lock:
            outcome = changes.push(self.index, source, author, datetime.now(timezone.utc), note, publish=publish)
            return outcome if isinstance(outcome, list) else self._write(outcome)

    def publish(self, template_id: str, version: int, who: str) -> Output | Refused | str:
        """The published record, why it cannot be published, or why Kafka did not take it."""
        with self._lock:
            outcome = changes.publish(self.index, template_id, version, who, datetime.now(timezone.utc))
            return outcome if isinstance(outcome, Refused) else self._write(outcome)

    def _write(self, output: Output) -> Output | str:
        (error,) = self._publisher.publish([output])
        if error is not None:
            return error
        self.index.take(output.key, output.value)
        return output


def issue_problems(issues: list[Issue]) -> list[Problem]:
    """Each issue as the API's problem: ``field`` the template path it is at (``rcs.suggestions[0].text``)."""
    return [Problem(code="invalid_template", message=issue.message, field=issue.path or "source") for issue in issues]


def add_routes(route: Callable[..., None], writer: TemplateWriter) -> None:
    """Declare the ``/v1/templates`` routes through the intake's ``route`` (guard, scope, OpenAPI)."""
    index = writer.index

    def list_templates() -> TemplateList:
        """Every template id with its latest and its published version."""
        return TemplateList(templates=summaries(index))

    def history(template_id: str) -> Any:
        """Every version of a template: status, author, time, note."""
        versions = index.versions(template_id)
        if not versions:
            return _error(404, "unknown_template", f"no template {template_id!r}")
        return TemplateHistory(template_id=template_id, versions=[version_out(row) for row in versions.values()])

    def one_version(template_id: str, version: int) -> Any:
        """One version with its TOML text."""
        row = index.versions(template_id).get(version)
        if row is None:
            return _error(404, "unknown_template_version", f"template {template_id!r} has no version {version}")
        return version_out(row, with_source=True)

    def push(request: Request, body: TemplatePush = Depends(json_body(TemplatePush))) -> JSONResponse:
        """Store a template's text as its next version; 422 names each field and rule it breaks, nothing stored."""
        outcome = writer.push(body.source, caller(request), body.note, body.publish)
        if isinstance(outcome, list):
            return JSONResponse(ErrorBody(errors=issue_problems(outcome)).model_dump(exclude_none=True), status_code=422)
        if isinstance(outcome, str):
            return _error(503, "unavailable", f"Kafka did not take the version ({outcome}); send it again")
        return JSONResponse(version_out(outcome.value).model_dump(mode="json"), status_code=201)

    def publish(request: Request, template_id: str, version: int) -> Any:
        """Publish a version: requests naming no version get it (the highest published version is sent)."""
        outcome = writer.publish(template_id, version, caller(request))
        if isinstance(outcome, Refused):
            return _error(422 if outcome.reason == "invalid_template" else 404, outcome.reason, outcome.detail)
        if isinstance(outcome, str):
            return _error(503, "unavailable", f"Kafka did not take the change ({outcome}); send it again")
        return version_out(outcome.value)

    missing = {404: {"model": ErrorBody, "description": "No such template or version."}}
    route("GET", "/v1/templates", list_templates, response_model=TemplateList)
    route("GET", "/v1/templates/{template_id}", history, response_model=TemplateHistory, responses=missing)
    route("GET", "/v1/templates/{template_id}/versions/{version}", one_version, response_model=TemplateVersionOut, responses=missing)
    route("POST", "/v1/templates", push, status_code=201, response_model=TemplateVersionOut, responses={
        422: {"model": ErrorBody, "description": "The text breaks a rule (`field`: where in the template); nothing stored."},
        503: {"model": ErrorBody, "description": "Kafka did not take the version; send it again."}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": TemplatePush.model_json_schema()}}}})
    route("POST", "/v1/templates/{template_id}/versions/{version}/publish", publish, response_model=TemplateVersionOut, responses={
        **missing, 422: {"model": ErrorBody, "description": "The version no longer passes the rules."},
        503: {"model": ErrorBody, "description": "Kafka did not take the change; send it again."}})


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(ErrorBody(errors=[Problem(code=code, message=message)]).model_dump(exclude_none=True), status_code=status)
