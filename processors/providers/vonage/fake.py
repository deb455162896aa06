"""A local Vonage for tests: the Messages API's send endpoint on 127.0.0.1 (an OS-chosen port), answered as Vonage
answers it, and signed status and inbound webhooks posted the way Vonage posts them.

- ``POST /v1/messages`` (JSON): Basic auth (401 ``unauthorized`` problem), then the SMS fields checked as Vonage
  documents them — ``message_type`` ``text``, ``channel`` ``sms``, ``to`` digits without ``+``, ``from``, ``text`` of 1
  to 1000 characters, ``client_ref`` up to 100, ``ttl`` a positive integer, ``sms.encoding_type`` text/unicode/auto
  (422 problem ``…/api-errors/messages#1020`` with ``invalid_parameters``) → 202 ``{"message_uuid"}``. Errors are RFC
  7807 problems (``type``, ``title``, ``detail``, ``instance``).
- Faults for the next send requests (``fail_next``): ``401``, ``403``, ``429`` (with ``Retry-After``), ``500``,
  ``503``, ``422`` (a refusal of that message), ``lost_answer`` (the message is made and the connection closed without
  an answer) and ``slow`` (made, answered ``slow_s`` later: a client that gave up has an unknown outcome).
- ``journal``: every message made, in order; ``sends``: every send request answered, faults included.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from processors.providers.vonage.signature import AUTHORIZATION, sign

_NUMBER = re.compile(r"[1-9]\d{6,14}")
_ERRORS = "https://developer.vonage.com/api-errors"
FAULTS = frozenset({"401", "403", "429", "500", "503", "422", "lost_answer", "slow"})


class FakeVonage:
    """One fake account; ``start()`` (or ``running()``) serves it, ``url`` is its base URL."""

    def __init__(self, api_key: str = "fakekey1", api_secret: str = "fake-api-secret",
                 signature_secret: str = "fake-signature-secret-of-32-bytes!") -> None:
        self.api_key, self.api_secret, self.signature_secret = api_key, api_secret, signature_secret
        self.journal: list[dict[str, Any]] = []
        self.sends = 0
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
        """Answer the next send requests with these faults, in order (``FAULTS``)."""
        unknown = set(faults) - FAULTS
        assert not unknown, f"unknown faults {unknown}; use {sorted(FAULTS)}"
        with self._lock:
            self._faults.extend(faults)

    def made_for(self, client_ref: str) -> list[dict[str, Any]]:
        """The messages made with that ``client_ref``."""
        with self._lock:
            return [m for m in self.journal if m["client_ref"] == client_ref]

    def start(self) -> FakeVonage:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-vonage", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # What Vonage posts to us ---------------------------------------------------------------------------------

    def status_body(self, message_uuid: str, status: str, error_code: int | None = None, timestamp: str | None = None) -> bytes:
        """A status webhook's body for a message in the journal, as Vonage writes it."""
        message = next(m for m in self.journal if m["message_uuid"] == message_uuid)
        event: dict[str, Any] = {
            "message_uuid": message_uuid, "to": message["to"], "from": message["from"], "timestamp": timestamp or _now(),
            "status": status, "channel": "sms", "usage": {"price": "0.0333", "currency": "EUR"}, "sms": {"count_total": "1"},
        }
        if message["client_ref"] is not None:
            event["client_ref"] = message["client_ref"]
        if error_code is not None:
            event["error"] = {"type": f"{_ERRORS}/messages#{error_code}", "title": error_code,
                              "detail": "refused downstream", "instance": uuid.uuid4().hex}
        return json.dumps(event).encode()

    def inbound_body(self, from_: str, to: str, text: str) -> bytes:
        """An inbound SMS webhook's body: a recipient (``from_``) writing ``text`` to our number ``to`` (both without ``+``)."""
        return json.dumps({"channel": "sms", "message_uuid": str(uuid.uuid4()), "to": to, "from": from_, "text": text,
                           "timestamp": _now(), "message_type": "text", "sms": {"num_messages": "1"}}).encode()

    def signed_headers(self, body: bytes, issued_at: int | None = None) -> dict[str, str]:
        """The headers Vonage sends with ``body``: its JWT, signed with the signature secret at ``issued_at`` (now)."""
        token = sign(self.signature_secret, body, int(time.time()) if issued_at is None else issued_at, self.api_key)
        return {AUTHORIZATION: f"Bearer {token}", "content-type": "application/json"}

    def post_signed(self, url: str, body: bytes, client: httpx.Client | None = None) -> httpx.Response:
        """POST ``body`` to ``url`` as Vonage does; ``client`` (e.g. a FastAPI TestClient) stands for the public host."""
        headers = self.signed_headers(body)
        if client is not None:
            return client.post(urlsplit(url)._replace(scheme="", netloc="").geturl(), content=body, headers=headers)
        return httpx.post(url, content=body, headers=headers, timeout=10)

    # Serving -------------------------------------------------------------------------------------------------

    def _send(self, request: Any) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """The answer to one authorized send request; a None body means "close the connection without an answer"."""
        with self._lock:
            self.sends += 1
            fault = self._faults.popleft() if self._faults else None
            if fault == "401":
                return 401, _problem("#unauthorized", "Unauthorized", "You did not provide correct credentials."), {}
            if fault == "403":
                return 403, _problem("#forbidden", "Forbidden", "Your account does not have permission to perform this action."), {}
            if fault == "429":
                return 429, _problem("/messages#1000", "Throttled", "You have exceeded the submission capacity."), {"Retry-After": self.retry_after}
            if fault in ("500", "503"):
                return int(fault), _problem("/messages#1030", "Internal error", "There was an error processing your request."), {}
            if fault == "422":
                return 422, _problem("/messages#1020", "Invalid params", "The value of one or more parameters is invalid."), {}
            invalid = _invalid(request)
            if invalid:
                problem = _problem("/messages#1020", "Invalid params", "The value of one or more parameters is invalid.")
                return 422, {**problem, "invalid_parameters": invalid}, {}
            message = {"message_uuid": str(uuid.uuid4()), "to": request["to"], "from": request["from"], "text": request["text"],
                       "client_ref": request.get("client_ref"), "webhook_url": request.get("webhook_url"),
                       "ttl": request.get("ttl"), "sms": request.get("sms"), "created": datetime.now(timezone.utc)}
            self.journal.append(message)
        if fault == "lost_answer":
            return 202, None, {}
        if fault == "slow":
            time.sleep(self.slow_s)
        return 202, {"message_uuid": message["message_uuid"]}, {}

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return header == f"Basic {expected}"


class _Server(ThreadingHTTPServer):
    # The default backlog (5) resets connections under an adapter's concurrency: lost answers the test did not ask for.
    request_queue_size = 128


@contextmanager
def running(fake: FakeVonage | None = None) -> Iterator[FakeVonage]:
    """A started fake, stopped afterwards."""
    fake = (fake or FakeVonage()).start()
    try:
        yield fake
    finally:
        fake.stop()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _problem(kind: str, title: str, detail: str) -> dict[str, Any]:
    return {"type": f"{_ERRORS}{kind}", "title": title, "detail": detail, "instance": uuid.uuid4().hex}


def _invalid(request: Any) -> list[dict[str, str]]:
    """The SMS request's invalid parameters, as Vonage's ``invalid_parameters`` lists them."""
    if not isinstance(request, dict):
        return [{"name": "body", "reason": "must be a JSON object"}]
    checks = {
        "message_type": request.get("message_type") == "text",
        "channel": request.get("channel") == "sms",
        "to": isinstance(request.get("to"), str) and bool(_NUMBER.fullmatch(request["to"])),
        "from": isinstance(request.get("from"), str) and 0 < len(request["from"]) <= 50,
        "text": isinstance(request.get("text"), str) and 0 < len(request["text"]) <= 1000,
        "client_ref": request.get("client_ref") is None or (isinstance(request["client_ref"], str) and len(request["client_ref"]) <= 100),
        "ttl": request.get("ttl") is None or (type(request["ttl"]) is int and request["ttl"] >= 1),
        "sms.encoding_type": (request.get("sms") or {}).get("encoding_type", "auto") in ("text", "unicode", "auto"),
    }
    return [{"name": name, "reason": "missing or invalid"} for name, valid in checks.items() if not valid]


def _handler(fake: FakeVonage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            # The body is read first: a refusal with the request unread would reset the connection under the answer.
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if urlsplit(self.path).path != "/v1/messages":
                self._answer(404, _problem("#not-found", "Not found", "The requested resource does not exist."), {})
            elif not fake._authorized(self.headers.get("authorization")):
                self._answer(401, _problem("#unauthorized", "Unauthorized", "You did not provide correct credentials."), {})
            else:
                try:
                    request = json.loads(body)
                except ValueError:
                    request = None
                self._answer(*fake._send(request))

        def _answer(self, status: int, body: dict[str, Any] | None, headers: dict[str, str]) -> None:
            if body is None:  # the answer is lost: the client sees the connection close
                self.close_connection = True
                return
            data = json.dumps(body).encode()
            kind = "application/json" if 200 <= status < 300 else "application/problem+json"
            try:
                self.send_response(status)
                for name, value in {"content-type": kind, "content-length": str(len(data)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a slow answer): Vonage's side does not care either

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the journal, not an access log."""

    return Handler
