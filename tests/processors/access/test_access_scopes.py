"""Scopes: parsing, what admin implies, and the one table every HTTP route must be declared in."""
from __future__ import annotations

import pytest
from fastapi import FastAPI

from processors.access.scopes import ALL_SCOPES, grants, parse_scopes, required_scope, undeclared


def test_scopes_parse_in_declared_order_and_unknown_ones_are_named() -> None:
    assert parse_scopes(" reports:read,messages:send ") == ("messages:send", "reports:read")
    with pytest.raises(ValueError, match="'message:send'"):
        parse_scopes("message:send")
    with pytest.raises(ValueError, match="at least one"):
        parse_scopes(" , ")


@pytest.mark.parametrize("needed", ALL_SCOPES)
def test_admin_implies_every_scope_and_others_only_themselves(needed: str) -> None:
    assert grants(["admin"], needed)
    assert grants([needed], needed)
    others = [s for s in ALL_SCOPES if s not in (needed, "admin")]
    assert not grants(others, needed)


def test_a_route_missing_from_the_table_is_named() -> None:
    app = FastAPI()
    app.add_api_route("/v1/secret-things", lambda: None, methods=["DELETE"])
    assert undeclared(app) == [("DELETE", "/v1/secret-things")]
    with pytest.raises(KeyError, match="DELETE /v1/secret-things"):
        required_scope("delete", "/v1/secret-things")
    assert required_scope("post", "/v1/messages") == "messages:send"
