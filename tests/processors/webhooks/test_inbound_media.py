"""Inbound MMS media: fetched under the SSRF rules, kept in the local S3, its presigned URL on the inbound event (a
compatible Avro field) and in the keyword reply's variables; a media that cannot be had costs the message nothing."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest
from fastapi.testclient import TestClient
from fastavro.validation import validate

from common.config import Settings
import schemas
from processors.keywords.book import load
from processors.keywords.logic import handle
from processors.providers.twilio.fake import FakeTwilio
from processors.web.fetch import Fetched
from processors.web.media_rejected import BLOCKED, MediaRejected
from processors.rules.templates import compile_source
from processors.runtime.stage import Output
from processors.webhooks.api import create_app
from processors.webhooks.inbound_media import OPAQUE, InboundMedia, object_key, sniff
from tests.processors.render.media_http import MediaServer, Network, sandboxed
from tests.processors.render.media_samples import VCARD, noise
from tests.processors.webhooks.webhook_helpers import RecordingPublisher

PUBLIC_URL = "https://hooks.example/webhooks/twilio"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
REPLY = '''
id = "mms_reply"
version = 1
purpose = "transactional"

[sms]
default = "{% if media_url %}Thanks, we got your photo: {{ media_url }}{% else %}Thanks for your message.{% endif %}"
'''


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    with sandboxed(monkeypatch) as sandbox:
        yield sandbox
    assert sandbox.refused == [], "a media fetch tried to reach a non-loopback address"


def inbound(media: list[str]) -> Output:
    return Output("inbound", "+33612345678", {"from_e164": "+33612345678", "to_sender_id": "36180", "text": "STOP",
                                              "media_urls": media, "provider": "twilio", "provider_message_id": "MM1",
                                              "received_at": NOW})


def test_sniffing_trusts_the_bytes_not_the_name() -> None:
    assert sniff(noise(8, 8)) == ("image/png", "png")
    assert sniff(noise(8, 8, fmt="JPEG")) == ("image/jpeg", "jpg")
    assert sniff(VCARD) == ("text/vcard", "vcf")
    assert sniff(b"<html><script>alert(1)</script></html>") == OPAQUE
    assert object_key(b"x", "bin").startswith("inbound/") and object_key(b"x", "bin") == object_key(b"x", "bin")


def test_each_media_gets_its_stored_copy_or_null_in_order() -> None:
    def fetch(url: str) -> Fetched:
        if "internal" in url:
            raise MediaRejected(BLOCKED, f"{url}: private address")
        return Fetched(url, url.encode())

    step = InboundMedia(fetch, lambda body: f"https://s3.example/{body.decode()[-1]}")
    receipt = Output("provider-events", "SM1", {"provider": "twilio"})
    plain = inbound([])
    out = step([receipt, plain, inbound(["https://a.example/1", "http://internal/2", "https://a.example/3"])])
    assert out[0] is receipt and out[1] is plain  # only inbound records with media are touched
    assert out[2].value["stored_media_urls"] == ["https://s3.example/1", None, "https://s3.example/3"]
    assert step.failed == 1
    validate(out[2].value, schemas.parsed_schema("InboundMessage"), raise_errors=True)
    validate(plain.value, schemas.parsed_schema("InboundMessage"), raise_errors=True)  # an older record still reads


def test_twilio_mms_media_reach_s3_and_the_reply(real_parts: Settings, network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTwilio()
    monkeypatch.setenv("COURRIER_TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("COURRIER_TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("COURRIER_TWILIO_WEBHOOK_URL", PUBLIC_URL)
    photo = noise(32, 32, seed=uuid.uuid4().int % 10_000)  # unique to this run
    publisher = RecordingPublisher()
    with MediaServer() as server:
        media = [server.add("/photo.png", photo, headers={"Content-Type": "image/png"}),
                 "http://169.254.169.254/latest/meta-data/",  # refused before any packet: link-local
                 server.url("/gone.png"),  # 404
                 server.add("/page.html", b"<script>alert(1)</script>", headers={"Content-Type": "text/html"})]
        settings = Settings(webhook_secret="test-webhook-secret", media_allow_hosts=server.host)
        with TestClient(create_app(settings, publisher=publisher)) as client:
            answer = fake.post_inbound(PUBLIC_URL, "+33612345678", "36180", "STOP", media=media, client=client)
            assert answer.status_code == 200, answer.text
        assert server.paths() == ["/photo.png", "/gone.png", "/page.html"]
    (output,) = publisher.published
    value = output.value
    validate(value, schemas.parsed_schema("InboundMessage"), raise_errors=True)
    assert value["media_urls"] == media
    stored, blocked, missing, page = value["stored_media_urls"]
    assert blocked is None and missing is None
    assert stored.startswith(f"{settings.s3_url}/{settings.media_bucket}/inbound/") and "X-Amz-Signature=" in stored
    got = httpx.get(stored, timeout=10)
    assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/png"
    html = httpx.get(page, timeout=10)  # what the sender chose is downloaded, never displayed as a page
    assert html.headers["content-type"] == OPAQUE[0] and html.headers.get("content-disposition") == "attachment"

    reply = next(o for o in handle(value, load()) if o.topic == "send-requested")
    assert reply.value["variables"]["media_url"] == stored
    assert reply.value["variables"]["media_urls"] == f"{stored} {page}"
    template = compile_source(REPLY, "mms_reply")
    assert template.render(reply.value["variables"], None, "SMS").sms_text == f"Thanks, we got your photo: {stored}"
