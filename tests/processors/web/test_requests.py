"""What every HTTP route reads from its request: the body as a model, its OpenAPI declaration, the accepted key."""
from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from processors.web import errors
from processors.web.requests import api_key_countries, api_key_id, caller, inlined_schema, json_body, openapi_body


class Item(BaseModel):
    sku: str
    count: int


class Order(BaseModel):
    items: list[Item]


def _app(key_id: str | None = None) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.api_key_id = key_id
        request.state.api_key_countries = ("FR",) if key_id else None
        return await call_next(request)

    @app.post("/orders", openapi_extra=openapi_body(Order))
    def take(request: Request, order: Order = Depends(json_body(Order))) -> dict[str, object]:
        return {"items": len(order.items), "by": caller(request), "countries": api_key_countries(request), "key": api_key_id(request)}

    return TestClient(app)


def test_a_valid_body_is_read_as_its_model_and_the_caller_named_by_its_key() -> None:
    answer = _app("k1").post("/orders", json={"items": [{"sku": "a", "count": 2}]})
    assert answer.status_code == 200
    assert answer.json() == {"items": 1, "by": "api-key:k1", "countries": ["FR"], "key": "k1"}


def test_without_access_control_the_caller_is_the_api() -> None:
    assert _app().post("/orders", json={"items": []}).json()["by"] == "api"


def test_bodies_that_are_not_json_not_utf8_or_invalid_are_refused_in_the_api_shape() -> None:
    client = _app()
    not_json = client.post("/orders", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["code"] == "json_invalid"
    not_utf8 = client.post("/orders", content=b'{"items": "\xff"}', headers={"content-type": "application/json"})
    assert not_utf8.status_code == 400 and not_utf8.json()["errors"][0]["code"] == "invalid_encoding"
    invalid = client.post("/orders", json={"items": [{"sku": "a"}]})
    assert invalid.status_code == 422 and "count" in invalid.json()["errors"][0]["field"]


def test_the_declared_body_has_its_nested_models_written_in_place() -> None:
    schema = inlined_schema(Order)
    assert "$defs" not in schema and "$ref" not in str(schema)
    assert schema["properties"]["items"]["items"]["properties"]["count"]["type"] == "integer"
    declared = _app().app.openapi()["paths"]["/orders"]["post"]["requestBody"]
    assert declared["content"]["application/json"]["schema"] == schema
