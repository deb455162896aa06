"""Twilio's conformance harness: the adapter against ``FakeTwilio`` on 127.0.0.1 (see the kit in ../conformance)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import uuid
from urllib.parse import parse_qsl, urlencode

from processors.dispatch.provider import Submission
from processors.providers.twilio.adapter import TwilioProvider
from processors.providers.twilio.fake import FakeTwilio
from processors.providers.twilio.settings import TwilioSettings
from processors.providers.twilio.webhook import SIGNATURE_HEADER, sign, webhook_provider
from processors.web.webhook_contract import WebhookProvider

PUBLIC_URL = "https://hooks.example/webhooks/twilio"
FAULTS = {"lost_answer": "slow", "unauthorized": "401", "forbidden": "403", "throttled": "429", "server_error": "503",
          "bad_request": "400"}


class TwilioHarness:
    name = "twilio"
    channel = "SMS"
    statuses = {"queued": "SENT", "accepted": "SENT", "sending": "SENT", "sent": "SENT", "delivered": "DELIVERED",
                "undelivered": "UNDELIVERED", "failed": "FAILED", "read": "READ", "canceled": "FAILED"}

    def __init__(self) -> None:
        self.fake = FakeTwilio()
        self.fake.slow_s = 0.6
        self.fake.retry_after = "0.1"

    @contextmanager
    def running(self) -> Iterator[None]:
        self.fake.start()
        try:
            yield
        finally:
            self.fake.stop()

    def settings(self) -> TwilioSettings:
        return TwilioSettings(account_sid=self.fake.account_sid, auth_token=self.fake.auth_token, api_url=self.fake.url,
                              status_callback_url=PUBLIC_URL, webhook_url=PUBLIC_URL, request_timeout_s=0.3, throttle_retries=1)

    def provider(self) -> TwilioProvider:
        return TwilioProvider(self.settings())

    def submission(self, message_id: str) -> Submission:
        return Submission(message_id, "+15005550006", "LONG_CODE", "+14155550100", f"Your code is {message_id}", "GSM7")

    def times_sent(self, message_id: str) -> int:
        return sum(message_id in (made.get("body") or "") for made in self.fake.journal)

    def inject(self, fault: str) -> None:
        self.fake.fail_next(FAULTS[fault])

    def webhook(self) -> WebhookProvider:
        return webhook_provider(self.settings())

    def provider_id(self) -> str:
        return "SM" + uuid.uuid4().hex

    def signed_report(self, message_id: str, provider_message_id: str, raw_status: str) -> tuple[dict[str, str], bytes]:
        sid = provider_message_id
        params = [("AccountSid", self.fake.account_sid), ("MessageSid", sid), ("MessageStatus", raw_status), ("SmsSid", sid),
                  ("From", "+15005550006"), ("To", "+14155550100")]
        return {SIGNATURE_HEADER: sign(self.fake.auth_token, PUBLIC_URL, params)}, urlencode(params).encode()

    def forged(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {SIGNATURE_HEADER: sign("not-the-auth-token", PUBLIC_URL, parse_qsl(body.decode()))}, body


HARNESS = TwilioHarness
