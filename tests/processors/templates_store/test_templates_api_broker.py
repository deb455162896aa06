"""/v1/templates on the intake against the real broker: scopes, a push refused with each field and rule, a draft that
a message cannot name until published, and the studio's list page behind its login."""
from __future__ import annotations

from common.config import Settings
from processors.studio.app import COOKIE

from tests.processors.intake.intake_server import create_key, serve

HELLO = 'id = "hello"\npurpose = "transactional"\n[sms]\ndefault = "Hello {{ name }}"\n[sample]\nname = "Jo"\n'


def test_templates_over_http(topic_settings: Settings) -> None:
    editor = create_key(topic_settings, ("templates:read", "templates:write", "messages:send"), name="editor")
    reader = create_key(topic_settings, ("templates:read",), name="reader")
    with serve(topic_settings) as intake, intake.client(editor.key) as client, intake.client(reader.key) as reading, \
            intake.client() as sender:
        assert sender.get("/v1/templates").status_code == 403  # the intake's own key holds messages:send only
        assert reading.post("/v1/templates", json={"source": HELLO}).status_code == 403
        listed = {t["template_id"]: t for t in reading.get("/v1/templates").json()["templates"]}
        assert listed["otp"] == {"template_id": "otp", "latest": 1, "published": 1}  # seeded by the intake at start

        bad = client.post("/v1/templates", json={"source": HELLO.replace('"Hello {{ name }}"', '"{% if %}"')})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sms.default"
        pushed = client.post("/v1/templates", json={"source": HELLO, "note": "new"})
        assert pushed.status_code == 201, pushed.text
        assert (pushed.json()["version"], pushed.json()["status"], pushed.json()["created_by"]) == (1, "DRAFT", f"api-key:{editor.key_id}")

        message = {"template_id": "hello", "recipient": "+33612345678", "variables": {"name": "Jo"}}
        refused = client.post("/v1/messages", json={**message, "template_version": 1})
        assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "template_version_draft"
        assert client.post("/v1/messages", json=message).json()["errors"][0]["code"] == "unknown_template"  # only a draft

        published = client.post("/v1/templates/hello/versions/1/publish")
        assert published.status_code == 200 and published.json()["status"] == "PUBLISHED"
        assert client.post("/v1/messages", json={**message, "template_version": 1}).status_code == 202
        one = reading.get("/v1/templates/hello/versions/1").json()
        assert one["source"] == HELLO and one["published_by"] == f"api-key:{editor.key_id}"
        assert [v["note"] for v in reading.get("/v1/templates/hello").json()["versions"]] == ["new"]
        assert reading.get("/v1/templates/nope").status_code == 404
        assert client.post("/v1/templates/hello/versions/7/publish").status_code == 404

        import httpx

        with httpx.Client(base_url=intake.url, timeout=30) as browser:
            assert browser.get("/studio", follow_redirects=False).status_code == 303  # no key: the login page
            browser.cookies.set(COOKIE, reader.key)
            page = browser.get("/studio")
            assert page.status_code == 200 and 'href="/studio/templates/hello"' in page.text
