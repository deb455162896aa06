"""RBM's conformance harness: the adapter against ``FakeRbm`` on 127.0.0.1, its OAuth tokens from the fake's token
endpoint with a throwaway service-account key (see the kit in ../conformance)."""
from __future__ import annotations

import base64
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from processors.dispatch.provider import Submission
from processors.providers.rbm.adapter import RbmProvider, rbm_message_id
from processors.providers.rbm.content import postback
from processors.providers.rbm.fake import FakeRbm, server_event, suggestion_tap, user_event
from processors.providers.rbm.settings import RbmSettings
from processors.providers.rbm.signature import SIGNATURE_HEADER, sign, signed_request
from processors.providers.rbm.statuses import EVENT_STATUS, SERVER_EVENTS
from processors.providers.rbm.webhook import webhook_provider
from processors.web.webhook_contract import WebhookProvider

AGENT = "courrier-agent"
CLIENT_TOKEN = "conformance-client-token"
PHONE = "+33612345678"
FAULTS = {"lost_answer": "lost_answer", "unauthorized": "401", "forbidden": "403", "throttled": "429", "server_error": "503",
          "bad_request": "400"}


class RbmHarness:
    name = "rbm"
    channel = "RCS"
    statuses = {word: status for word, (status, _reason) in EVENT_STATUS.items()}

    def __init__(self) -> None:
        self.fake = FakeRbm(AGENT)
        self.fake.retry_after = "0.1"
        self._folder: Path | None = None

    @contextmanager
    def running(self) -> Iterator[None]:
        self.fake.start()
        self._folder = Path(tempfile.mkdtemp(prefix="rbm-conformance-"))
        (self._folder / "key.json").write_text(json.dumps(self.fake.account))
        try:
            yield
        finally:
            self.fake.stop()
            shutil.rmtree(self._folder, ignore_errors=True)

    def settings(self) -> RbmSettings:
        assert self._folder is not None, "running() first"
        return RbmSettings(agent_id=AGENT, service_account_file=self._folder / "key.json", api_url=self.fake.url,
                           client_token=CLIENT_TOKEN, request_timeout_s=0.5, throttle_retries=1)

    def provider(self) -> RbmProvider:
        return RbmProvider(self.settings())

    def submission(self, message_id: str) -> Submission:
        return Submission(message_id, AGENT, "RCS_AGENT", PHONE, f"Your code is {message_id}", "GSM7", channel="RCS")

    def times_sent(self, message_id: str) -> int:
        return self.fake.times_made(rbm_message_id(message_id))

    def inject(self, fault: str) -> None:
        self.fake.fail_next(FAULTS[fault])

    def webhook(self) -> WebhookProvider:
        return webhook_provider(self.name, CLIENT_TOKEN, AGENT)

    def provider_id(self) -> str:
        return str(uuid.uuid4())  # RBM's messageId is a UUID (ours, uuid5 of the submission id)

    def signed_report(self, message_id: str, provider_message_id: str, raw_status: str) -> tuple[dict[str, str], bytes]:
        if raw_status == "CLICKED":
            event = suggestion_tap(PHONE, postback(provider_message_id)(0, "Yes"), "Yes")
        elif raw_status in SERVER_EVENTS:
            event = server_event(raw_status, PHONE, provider_message_id, AGENT)
        else:
            event = user_event(raw_status, PHONE, provider_message_id, AGENT)
        return signed_request(event, "4242", datetime.now(timezone.utc), CLIENT_TOKEN)

    def forged(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        data = json.loads(body)["message"]["data"]
        return {**headers, SIGNATURE_HEADER: sign(base64.b64decode(data), "not-the-client-token")}, body


HARNESS = RbmHarness
