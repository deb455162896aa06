"""A local Twilio for tests: the Messages create and list endpoints on 127.0.0.1 (an OS-chosen port), answered as
Twilio answers them, and signed status callbacks and inbound messages posted the way Twilio posts them.

- ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` (form): Basic auth (401 code 20003), ``To`` E.164 (400 code
  21211), ``To`` unsubscribed (400 code 21610), ``From`` or ``MessagingServiceSid`` (400 code 21603), ``Body`` or
  ``MediaUrl`` (400 code 21602), ``Body`` ≤ 1600 (400 code 21617) → 201 with the message (``sid`` SM…/MM…).
  Errors are ``{"code", "message", "more_info", "status"}`` as Twilio's.
- ``GET …/Messages.json?To=&From=&PageSize=&Page=``: the account's messages, newest first, with ``next_page_uri``.
- Faults for the next create requests (``fail_next``): ``429`` (with ``Retry-After``), ``500``, ``503``, ``401``,
  ``403``, ``400``, and
  ``slow`` (the message is made, the answer comes ``slow_s`` later: a client that gave up has an unknown outcome).
- ``journal``: every message made, in order; ``creates``: every create request answered, faults included.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from processors.providers.twilio.webhook import SIGNATURE_HEADER, sign

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MESSAGES = re.compile(r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json")


class FakeTwilio:
    """One fake account; ``start()`` (or ``running()``) serves it, ``url`` is its base URL."""

    def __init__(self, account_sid: str = "AC" + "0f" * 16, auth_token: str = "fake-auth-token") -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.journal: list[dict[str, Any]] = []
        self.creates = 0
        self.unsubscribed: set[str] = set()
        self.retry_after = "0.2"
        self.slow_s = 2.0
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, *faults: str) -> None:
        """Answer the next create requests with these faults, in order: ``429``, ``500``, ``503``, ``401``, ``403``,
        ``400`` (an invalid To) or ``slow``."""
        with self._lock:
            self._faults.extend(faults)

    def add_message(self, to: str, from_: str, body: str, created: datetime) -> dict[str, Any]:
        """A message made outside the adapter (an older send of the same body, another sender's), in the journal."""
        with self._lock:
            return self._make({"To": to, "From": from_, "Body": body}, [], created)

    def start(self) -> FakeTwilio:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # What Twilio posts to us ---------------------------------------------------------------------------------

    def post_status(self, sid: str, status: str, error_code: str | None = None, url: str | None = None,
                    client: httpx.Client | None = None) -> httpx.Response:
        """A signed status callback for message ``sid`` to ``url`` (default: the StatusCallback it was sent with)."""
        message = next(m for m in self.journal if m["sid"] == sid)
        target = url or message["status_callback"]
        params = [("AccountSid", self.account_sid), ("ApiVersion", "2010-04-01"), ("From", message["from"] or ""),
                  ("MessageSid", sid), ("MessageStatus", status), ("SmsSid", sid), ("SmsStatus", status), ("To", message["to"])]
        if error_code is not None:
            params.append(("ErrorCode", error_code))
        return self.post_signed(target, params, client)

    def post_inbound(self, url: str, from_: str, to: str, body: str, media: Sequence[str] = (),
                     client: httpx.Client | None = None) -> httpx.Response:
        """A signed inbound message (a recipient writing to one of our numbers) to ``url``."""
        sid = ("MM" if media else "SM") + uuid.uuid4().hex
        params = [("AccountSid", self.account_sid), ("ApiVersion", "2010-04-01"), ("Body", body), ("From", from_),
                  ("MessageSid", sid), ("NumMedia", str(len(media))), ("NumSegments", "1"), ("SmsMessageSid", sid),
                  ("SmsSid", sid), ("SmsStatus", "received"), ("To", to)]
        params += [(f"MediaUrl{i}", media_url) for i, media_url in enumerate(media)]
        return self.post_signed(url, params, client)

    def post_signed(self, url: str, params: list[tuple[str, str]], client: httpx.Client | None = None) -> httpx.Response:
        """POST ``params`` form-encoded to ``url`` with Twilio's signature of that URL and those parameters."""
        headers = {SIGNATURE_HEADER: sign(self.auth_token, url, params), "content-type": "application/x-www-form-urlencoded"}
        if client is not None:  # e.g. a FastAPI TestClient: its base URL stands for the public host
            return client.post(urlsplit(url)._replace(scheme="", netloc="").geturl(), content=urlencode(params), headers=headers)
        return httpx.post(url, content=urlencode(params), headers=headers, timeout=10)

    # Serving -------------------------------------------------------------------------------------------------

    def _create(self, form: list[tuple[str, str]]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.creates += 1
            fault = self._faults.popleft() if self._faults else None
            if fault == "429":
                return 429, _error(20429, "Too Many Requests", 429), {"Retry-After": self.retry_after}
            if fault in ("500", "503"):
                return int(fault), _error(20500, "Internal Server Error", int(fault)), {}
            if fault == "401":
                return 401, _error(20003, "Authenticate", 401), {}
            if fault == "403":
                return 403, _error(20403, "Forbidden", 403), {}
            if fault == "400":
                return 400, _error(21211, "The 'To' number is not a valid phone number.", 400), {}
            fields = dict(form)
            to, media = fields.get("To", ""), [value for name, value in form if name == "MediaUrl"]
            if not _E164.fullmatch(to):
                return 400, _error(21211, f"The 'To' number {to} is not a valid phone number.", 400), {}
            if to in self.unsubscribed:
                return 400, _error(21610, "Attempt to send to unsubscribed recipient", 400), {}
            if not fields.get("From") and not fields.get("MessagingServiceSid"):
                return 400, _error(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message", 400), {}
            if not fields.get("Body") and not media:
                return 400, _error(21602, "Message body is required.", 400), {}
            if len(fields.get("Body", "")) > 1600:
                return 400, _error(21617, "The concatenated message body exceeds the 1600 character limit.", 400), {}
            message = self._make(fields, media, datetime.now(timezone.utc))
        if fault == "slow":
            time.sleep(self.slow_s)
        return 201, message, {}

    def _make(self, fields: dict[str, str], media: list[str], created: datetime) -> dict[str, Any]:
        """A message as Twilio shows it, journaled (caller holds the lock)."""
        sid = ("MM" if media else "SM") + uuid.uuid4().hex
        service = fields.get("MessagingServiceSid")
        message = {
            "sid": sid, "account_sid": self.account_sid, "to": fields["To"], "from": None if service else fields.get("From"),
            "messaging_service_sid": service, "body": fields.get("Body", ""), "status": "accepted" if service else "queued",
            "num_media": str(len(media)), "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": format_datetime(created.astimezone(timezone.utc), usegmt=True), "date_sent": None,
            "date_updated": format_datetime(created.astimezone(timezone.utc), usegmt=True), "error_code": None,
            "error_message": None, "price": None, "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            # Not in Twilio's answer; kept for the tests' eyes (and for post_status).
            "media_urls": media, "status_callback": fields.get("StatusCallback"), "validity_period": fields.get("ValidityPeriod"),
        }
        self.journal.append(message)
        return message

    def _list(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            messages = [m for m in reversed(self.journal)
                        if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])]
        size, page = int(query.get("PageSize", "50")), int(query.get("Page", "0"))
        chunk = messages[page * size:(page + 1) * size]
        more = (page + 1) * size < len(messages)
        next_query = {**query, "Page": str(page + 1), "PageToken": f"PA{page + 1}"}
        shown = [{k: v for k, v in m.items() if k not in ("media_urls", "status_callback", "validity_period")} for m in chunk]
        return {"messages": shown, "page": page, "page_size": size, "uri": path,
                "next_page_uri": f"{path}?{urlencode(next_query)}" if more else None}

    def _authorized(self, header: str | None, account: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}" and account == self.account_sid


@contextmanager
def running(fake: FakeTwilio | None = None) -> Iterator[FakeTwilio]:
    """A started fake, stopped afterwards."""
    fake = (fake or FakeTwilio()).start()
    try:
        yield fake
    finally:
        fake.stop()


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            # The body is read first: a refusal with the request unread would reset the connection under the answer.
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self._route() is not None:
                self._answer(*fake._create(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))

        def do_GET(self) -> None:
            if self._route() is not None:
                split = urlsplit(self.path)
                self._answer(200, fake._list(split.path, dict(parse_qsl(split.query))), {})

        def _route(self) -> str | None:
            match = _MESSAGES.fullmatch(urlsplit(self.path).path)
            if match is None:
                self._answer(404, _error(20404, "The requested resource was not found", 404), {})
                return None
            if not fake._authorized(self.headers.get("authorization"), match["sid"]):
                self._answer(401, _error(20003, "Authenticate", 401), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
                return None
            return match["sid"]

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a slow answer): Twilio's side does not care either

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the journal, not an access log."""

    return Handler
