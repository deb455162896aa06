"""The studio's pages over HTTP without a broker (TestClient, an in-memory store): scopes, escaping, nothing saved
when a rule is broken, a saved version in the history."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from processors.studio.app import COOKIE, starter_source

XSS = '<script>alert("x")</script>'


@pytest.fixture
def studio(studio_app) -> Iterator[tuple[TestClient, object, dict[str, str]]]:
    with TestClient(studio_app.app, base_url="http://127.0.0.1") as client:
        yield client, studio_app.written, studio_app.keys


def as_key(client: TestClient, key: str) -> TestClient:
    client.cookies.set(COOKIE, key, domain="127.0.0.1", path="/studio")
    return client


def test_every_page_needs_a_key_with_its_scope(studio) -> None:
    client, written, keys = studio
    response = client.get("/studio", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/studio/login?reason=missing_api_key")
    assert client.get("/studio/login").status_code == 200
    as_key(client, keys["sender"])
    denied = client.get("/studio")
    assert denied.status_code == 403 and "lacks the scope &#39;templates:read&#39;" in denied.text
    as_key(client, keys["reader"])
    assert client.get("/studio").status_code == 200
    assert client.get("/studio/new").status_code == 403  # creating needs templates:write
    assert client.post("/studio/save", data={"source": starter_source("promotion")}).status_code == 403
    assert written.records == []


def test_login_keeps_the_key_in_an_httponly_strict_cookie(studio) -> None:
    client, _, keys = studio
    response = client.post("/studio/login", data={"key": keys["reader"]}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert response.status_code == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/studio" in cookie
    assert client.get("/studio").status_code == 200


def test_an_invalid_edit_names_the_field_and_rule_and_saves_nothing(studio) -> None:
    client, written, keys = studio
    as_key(client, keys["editor"])
    source = (starter_source("delivery_notification") or "").replace('"That works"', '"' + "A" * 30 + '"')
    response = client.post("/studio/save", data={"source": source, "note": "longer"})
    assert response.status_code == 422
    assert "rcs.suggestions[0].text" in response.text and "30 characters; the limit is 25" in response.text
    assert written.records == []


def test_a_save_is_a_draft_version_shown_in_the_history(studio) -> None:
    client, written, keys = studio
    as_key(client, keys["editor"])
    response = client.post("/studio/save", data={"source": starter_source("promotion"), "note": "spring"}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/studio/templates/my_promotion?saved=1")
    (record,) = written.records
    assert (record.key, record.value["status"], record.value["note"]) == ("my_promotion@1", "DRAFT", "spring")
    assert record.value["created_by"].startswith("api-key:")
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'id="history"' in page.text and "spring" in page.text and "v1 saved as a draft" in page.text
    assert "draft only" in client.get("/studio").text


def test_script_in_a_template_and_its_variables_is_escaped_on_every_page(studio) -> None:
    client, written, keys = studio
    as_key(client, keys["editor"])
    source = f'id = "xss"\n# {XSS}\n[sms]\ndefault = "{{{{ name }}}} \\u003cimg src=x onerror=alert(1)\\u003e"\n[rcs]\ntitle = "{{{{ name }}}}"\n'
    saved = client.post("/studio/save", data={"source": source, "note": XSS, "sample": f"name={XSS}"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    pages = [client.get("/studio/templates/xss"), client.get("/studio"),
             client.post("/studio/preview", data={"source": source, "sample": f"name={XSS}"})]
    for page in pages:
        assert page.status_code == 200
        assert XSS not in page.text and "<img src=x" not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[2].text  # the sample variable, rendered and escaped


def test_a_draft_is_published_from_the_history_and_versions_are_compared(studio) -> None:
    client, written, keys = studio
    as_key(client, keys["editor"])
    first = starter_source("re_engagement") or ""
    client.post("/studio/save", data={"source": first})
    script = "<script>alert(1)</script>"
    client.post("/studio/save", data={"source": first.replace("we miss you!", f"we miss you {script}")})
    page = client.get("/studio/templates/my_re_engagement").text
    assert "Publish v1" in page and "Publish v2" in page and 'diff?a=1&amp;b=2' in page
    diff = client.get("/studio/templates/my_re_engagement/diff", params={"a": 1, "b": 2})
    assert diff.status_code == 200 and script not in diff.text and "+default = " in diff.text
    assert client.get("/studio/templates/my_re_engagement/diff", params={"a": 1, "b": 9}).status_code == 404
    published = client.post("/studio/templates/my_re_engagement/publish", data={"version": "2"}, follow_redirects=False)
    assert published.status_code == 303 and written.records[-1].value["status"] == "PUBLISHED"
    assert written.records[-1].key == "my_re_engagement@2"
    assert client.post("/studio/templates/my_re_engagement/publish", data={"version": "7"}).status_code == 404
    as_key(client, keys["reader"])
    assert client.post("/studio/templates/my_re_engagement/publish", data={"version": "1"}).status_code == 403
    assert len(written.records) == 3


def test_the_preview_costs_the_region_given(studio) -> None:
    client, _, keys = studio
    as_key(client, keys["reader"])
    pane = client.post("/studio/preview", data={"source": starter_source("promotion"), "region": " se"})
    assert pane.status_code == 200 and "0.0520 EUR" in pane.text  # a Swedish SMS segment
