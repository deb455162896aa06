"""The Vonage adapter for the provider conformance kit (tests/processors/providers/conformance/): the fake Vonage on
127.0.0.1, an adapter pointed at it, faults for the next send, and status webhooks signed as Vonage signs them.

Vonage has no lookup by ``client_ref``: after a lost answer the adapter answers transient ``connection_lost`` and has
no ``reconcile`` (the kit checks that the message was made once and never sent again)."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone

from processors.dispatch.provider import Provider, Submission
from processors.providers.vonage.adapter import VonageProvider
from processors.providers.vonage.fake import FakeVonage
from processors.providers.vonage.settings import VonageSettings
from processors.providers.vonage.signature import AUTHORIZATION, sign
from processors.providers.vonage.webhook import webhook_provider
from processors.web.webhook_contract import WebhookProvider
from processors.web.webhook_settings import WebhookSettings

SENDER, TO = "+15005550006", "+14155550100"
# The kit's fault names → the fake's (one fault each, for the next send request only).
FAULTS = {"lost_answer": "lost_answer", "unauthorized": "401", "forbidden": "403", "throttled": "429",
          "server_error": "503", "bad_request": "422"}


class VonageHarness:
    """One fake Vonage account and the adapter and webhook the kit checks against it."""

    name = "vonage"
    channel = "SMS"
    statuses: Mapping[str, str] = {"submitted": "SENT", "delivered": "DELIVERED", "rejected": "REJECTED",
                                   "undeliverable": "FAILED", "read": "READ"}

    def __init__(self) -> None:
        self.fake = FakeVonage()

    @contextmanager
    def running(self) -> Iterator[None]:
        self.fake.start()
        try:
            yield
        finally:
            self.fake.stop()

    def provider(self) -> Provider:
        # No 429 retries within a call: the kit's one "throttled" must reach the caller as transient.
        return VonageProvider(VonageSettings(api_key=self.fake.api_key, api_secret=self.fake.api_secret, api_url=self.fake.url,
                                             status_webhook_url="https://hooks.example/webhooks/vonage", request_timeout_s=2.0,
                                             throttle_retries=0), name=self.name)

    def submission(self, message_id: str) -> Submission:
        return Submission(message_id, SENDER, "LONG_CODE", TO, f"Your code is {message_id[-6:]}", "GSM7", channel=self.channel)

    def times_sent(self, message_id: str) -> int:
        return len(self.fake.made_for(message_id))

    def inject(self, fault: str) -> None:
        self.fake.fail_next(FAULTS[fault])

    def webhook(self) -> WebhookProvider | None:
        settings = VonageSettings(signature_secret=self.fake.signature_secret)
        return webhook_provider(settings, self.name, WebhookSettings().tolerance_s)

    def signed_report(self, message_id: str, provider_message_id: str, raw_status: str) -> tuple[dict[str, str], bytes]:
        event: dict[str, object] = {
            "message_uuid": provider_message_id, "to": TO.removeprefix("+"), "from": SENDER.removeprefix("+"),
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "status": raw_status, "channel": "sms", "client_ref": message_id, "usage": {"price": "0.0333", "currency": "EUR"},
        }
        if raw_status in ("rejected", "undeliverable"):
            event["error"] = {"type": "https://developer.vonage.com/api-errors/messages#1250", "title": 1250,
                              "detail": "Unroutable", "instance": uuid.uuid4().hex}
        body = json.dumps(event).encode()
        return {k.lower(): v for k, v in self.fake.signed_headers(body).items()}, body

    def forged(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        token = sign("not-the-signature-secret-of-this-account", body, int(time.time()), self.fake.api_key)
        return {**headers, AUTHORIZATION: f"Bearer {token}"}, body


HARNESS = VonageHarness
