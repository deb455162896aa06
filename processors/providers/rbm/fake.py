"""A local Google RBM for tests: its token endpoint and the agent API on 127.0.0.1 (an OS-chosen port), answered as
RBM documents them, and signed webhook envelopes posted the way RBM posts them.

- ``POST /token`` (form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``): the assertion is
  checked (RS256 against the service account's public key, ``iss`` the account, ``aud`` Google's token endpoint —
  google-auth always names it, wherever ``token_uri`` points —, the RBM scope)
  → ``{"access_token", "expires_in", "token_type"}``; otherwise 400 ``invalid_grant`` as Google's OAuth server says it.
- ``POST /v1/phones/{E.164}/agentMessages?messageId=&agentId=``: bearer token (401 UNAUTHENTICATED), agent (403
  PERMISSION_DENIED), messageId a UUID and one content in ``contentMessage`` (400 INVALID_ARGUMENT), the number
  RCS-capable (404 NOT_FOUND), a messageId not used before (409 ALREADY_EXISTS) → 200 with the ``AgentMessage``.
- ``DELETE …/agentMessages/{messageId}?agentId=``: 200 ``{}`` (revoked) while not delivered; 404 once delivered (or
  unknown), as RBM's revoke guide says.
- ``GET /v1/phones/{E.164}/capabilities?requestId=&agentId=`` → 200 ``{"rbmEnabled", "features"}`` or 404;
  ``POST /v1/users:batchGet`` ``{"users", "agentId"}`` → ``{"reachableUsers", …}``.
- Faults for the next requests of a route (``fail_next``): ``lost_answer`` (a create makes the message, then the
  connection closes with no answer), ``401``, ``403``, ``429`` (with ``Retry-After``), ``500``, ``503``, ``400``.
- ``journal``: every message made, in order (``times_made``); ``requests``: every API request answered, faults included.

``new_service_account`` makes the throwaway key the adapter signs with; ``user_event``, ``user_text``,
``suggestion_tap`` and ``server_event`` build the webhook events, ``post_event`` posts one signed.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from processors.providers.rbm.content import rfc3339
from processors.providers.rbm.settings import SCOPE
from processors.providers.rbm.signature import signed_request

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MESSAGES = re.compile(r"/v1/phones/(?P<phone>[^/]+)/agentMessages")
_MESSAGE = re.compile(r"/v1/phones/(?P<phone>[^/]+)/agentMessages/(?P<id>[^/]+)")
_CAPABILITIES = re.compile(r"/v1/phones/(?P<phone>[^/]+)/capabilities")
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_CONTENTS = ("text", "richCard", "contentInfo", "uploadedRbmFile")
FEATURES = ["REVOCATION", "RICHCARD_STANDALONE", "RICHCARD_CAROUSEL", "ACTION_DIAL", "ACTION_OPEN_URL"]
_ERRORS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the adapter opens up to ``concurrency`` connections at once; the default backlog is 5


def new_service_account(token_uri: str, email: str = "courrier-rbm@fake-project.iam.gserviceaccount.com") -> dict[str, str]:
    """A throwaway service-account key (RSA 2048) whose tokens come from ``token_uri``, as Google's JSON key file holds it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "fake-project", "private_key_id": secrets.token_hex(20), "private_key": pem,
            "client_email": email, "client_id": "1" * 21, "token_uri": token_uri}


class FakeRbm:
    """One fake agent; ``start()`` (or ``running()``) serves it, ``url`` is its base URL, ``token_uri`` its token endpoint.

    ``account`` is the service-account key it trusts (made by ``new_service_account`` at start when not given)."""

    def __init__(self, agent_id: str = "courrier-agent", account: dict[str, str] | None = None) -> None:
        self.agent_id = agent_id
        self.account = account
        self.journal: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (route, outcome) of every API request answered
        self.not_capable: set[str] = set()
        self.expires_in = 3600
        self.retry_after = "0.2"
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # access token → expiry (monotonic)
        self._faults: dict[tuple[str, str | None], deque[str]] = {}  # (route, phone or None for any) → faults
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> FakeRbm:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        if self.account is None:
            self.account = new_service_account(self.token_uri)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-rbm", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # Test controls -------------------------------------------------------------------------------------------

    def fail_next(self, *faults: str, route: str = "create", phone: str | None = None) -> None:
        """Answer the next requests of ``route`` (create, revoke, capabilities, batchGet, token) — to ``phone`` only,
        when given — with these faults, in order."""
        with self._lock:
            self._faults.setdefault((route, phone), deque()).extend(faults)

    def forget_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as an expired or revoked one."""
        with self._lock:
            self._tokens.clear()

    def deliver(self, message_id: str) -> None:
        """Mark the message with RBM ``message_id`` delivered: it can no longer be revoked."""
        with self._lock:
            self._message(message_id)["delivered"] = True

    def times_made(self, message_id: str) -> int:
        """How many messages this fake made with RBM ``message_id`` (RBM's dedup makes it at most 1)."""
        with self._lock:
            return sum(1 for m in self.journal if m["message_id"] == message_id)

    def made(self, message_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._message(message_id))

    def post_event(self, url: str, event: dict[str, Any], client_token: str, client: httpx.Client | None = None) -> httpx.Response:
        """POST ``event`` to ``url`` as RBM does: a Pub/Sub push envelope signed with ``client_token``."""
        headers, body = signed_request(event, str(uuid.uuid4().int)[:16], datetime.now(timezone.utc), client_token)
        if client is not None:  # e.g. a FastAPI TestClient: its base URL stands for the public host
            return client.post(urlsplit(url)._replace(scheme="", netloc="").geturl(), content=body, headers=headers)
        return httpx.post(url, content=body, headers=headers, timeout=10)

    # Serving -------------------------------------------------------------------------------------------------

    def _fault(self, route: str, phone: str | None = None) -> str | None:
        for key in ((route, phone), (route, None)):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        assert self.account is not None
        with self._lock:
            fault = self._fault("token")
        if fault is not None:
            return int(fault), {"error": "internal_failure" if fault.startswith("5") else "invalid_grant", "error_description": "fault"}
        public = serialization.load_pem_private_key(self.account["private_key"].encode(), None).public_key()
        try:
            claims = jwt.decode(form.get("assertion", ""), public, algorithms=["RS256"], audience=GOOGLE_TOKEN_AUDIENCE,
                                issuer=self.account["client_email"])
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {type(exc).__name__}"}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or SCOPE not in str(claims.get("scope", "")).split():
            return 400, {"error": "invalid_scope", "error_description": "the RBM scope is required"}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.expires_in
            self.tokens_issued += 1
        return 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}

    def _api(self, method: str, path: str, query: dict[str, str], authorization: str | None, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """The answer to one API request; None to close the connection without one (a lost answer)."""
        route, match = _route(method, path)
        if route is None or match is None:
            return _error(404, f"no route {method} {path}")
        with self._lock:
            fault = self._fault(route, unquote(match["phone"]) if "phone" in match.groupdict() else None)
            outcome = self._serve(route, match, query, authorization, body, fault)
            self.requests.append((route, str(outcome[0]) if outcome else "lost"))
        return outcome

    def _serve(self, route: str, match: re.Match[str], query: dict[str, str], authorization: str | None, body: bytes,
               fault: str | None) -> tuple[int, dict[str, Any]] | None:
        if fault is not None and fault != "lost_answer":
            return _error(int(fault), f"injected {fault}")
        token = (authorization or "").removeprefix("Bearer ")
        if self._tokens.get(token, 0.0) <= time.monotonic():
            return _error(401, "Request had invalid authentication credentials.")
        payload = json.loads(body) if body else {}
        agent = payload.get("agentId") if route == "batchGet" else query.get("agentId")
        if agent != self.agent_id:
            return _error(403, f"The caller does not have permission for agent {agent!r}")
        if route == "batchGet":
            users = [u for u in payload.get("users", []) if isinstance(u, str)]
            return 200, {"reachableUsers": [u for u in users if u not in self.not_capable],
                         "totalRandomSampleUserCount": 0, "reachableRandomSampleUserCount": 0}
        phone = unquote(match["phone"])
        if not _E164.fullmatch(phone):
            return _error(400, f"'{phone}' is not a phone number in E.164 format")
        if route == "capabilities":
            return _error(404, "Requested entity was not found.") if phone in self.not_capable else (200, {"rbmEnabled": True, "features": FEATURES})
        if route == "revoke":
            made = next((m for m in self.journal if m["message_id"] == match["id"] and m["phone"] == phone), None)
            if made is None or made["delivered"]:
                return _error(404, "Requested entity was not found.")
            made["revoked"] = True
            return 200, {}
        return self._create(phone, query.get("messageId", ""), payload, fault)

    def _create(self, phone: str, message_id: str, payload: dict[str, Any], fault: str | None) -> tuple[int, dict[str, Any]] | None:
        problem = _create_problem(message_id, payload)
        if problem is not None:
            return _error(400, problem)
        if phone in self.not_capable:
            return _error(404, "Requested entity was not found.")
        if any(m["message_id"] == message_id for m in self.journal):
            return _error(409, "Requested entity already exists")
        made = {"message_id": message_id, "phone": phone, "agent_id": self.agent_id, "body": payload,
                "created": datetime.now(timezone.utc), "delivered": False, "revoked": False}
        self.journal.append(made)
        if fault == "lost_answer":
            return None
        answer = {"name": f"phones/{phone}/agentMessages/{message_id}", "sendTime": rfc3339(made["created"]),
                  "contentMessage": payload["contentMessage"]}
        if "expireTime" in payload:
            answer["expireTime"] = payload["expireTime"]
        return 200, answer

    def _message(self, message_id: str) -> dict[str, Any]:
        return next(m for m in self.journal if m["message_id"] == message_id)


@contextmanager
def running(fake: FakeRbm | None = None) -> Iterator[FakeRbm]:
    """A started fake, stopped afterwards."""
    fake = (fake or FakeRbm()).start()
    try:
        yield fake
    finally:
        fake.stop()


# Webhook events as RBM posts them (UserEvent, UserMessage, ServerEvent in RBM's REST reference) ---------------------

def user_event(event_type: str, phone: str, message_id: str | None = None, agent_id: str = "courrier-agent") -> dict[str, Any]:
    """A ``UserEvent`` (DELIVERED, READ about ``message_id``; IS_TYPING)."""
    event = {"senderPhoneNumber": phone, "eventType": event_type, "eventId": "Ms" + secrets.token_urlsafe(16),
             "sendTime": rfc3339(datetime.now(timezone.utc)), "agentId": f"{agent_id}@rbm.goog"}
    if message_id is not None:
        event["messageId"] = message_id
    return event


def user_text(phone: str, text: str, agent_id: str = "courrier-agent") -> dict[str, Any]:
    """A ``UserMessage`` the user typed."""
    return {"senderPhoneNumber": phone, "messageId": "MxU" + secrets.token_urlsafe(16), "sendTime": rfc3339(datetime.now(timezone.utc)),
            "agentId": f"{agent_id}@rbm.goog", "text": text}


def suggestion_tap(phone: str, postback_data: str, text: str, kind: str = "REPLY", agent_id: str = "courrier-agent") -> dict[str, Any]:
    """A ``UserMessage`` made by tapping a suggested reply (``REPLY``) or action (``ACTION``)."""
    return {**{k: v for k, v in user_text(phone, text, agent_id).items() if k != "text"},
            "suggestionResponse": {"postbackData": postback_data, "text": text, "type": kind}}


def server_event(event_type: str, phone: str, message_id: str, agent_id: str = "courrier-agent") -> dict[str, Any]:
    """A ``ServerEvent`` (TTL_EXPIRATION_REVOKED, TTL_EXPIRATION_REVOKE_FAILED) about ``message_id``."""
    return {"phoneNumber": phone, "messageId": message_id, "agentId": f"{agent_id}@rbm.goog", "eventType": event_type,
            "eventId": "Se" + secrets.token_urlsafe(16), "sendTime": rfc3339(datetime.now(timezone.utc))}


def _create_problem(message_id: str, payload: dict[str, Any]) -> str | None:
    """Why a create request is INVALID_ARGUMENT, if it is."""
    try:
        uuid.UUID(message_id)
    except ValueError:
        return "messageId must be a UUID (RFC 4122)"
    content = payload.get("contentMessage")
    if not isinstance(content, dict) or sum(key in content for key in _CONTENTS) != 1:
        return f"contentMessage must have exactly one of {', '.join(_CONTENTS)}"
    if "expireTime" in payload and "ttl" in payload:
        return "expireTime and ttl are exclusive"
    return None


def _route(method: str, path: str) -> tuple[str | None, re.Match[str] | None]:
    if method == "POST" and path == "/v1/users:batchGet":
        return "batchGet", re.match("", "")
    table = {"POST": [("create", _MESSAGES)], "DELETE": [("revoke", _MESSAGE)], "GET": [("capabilities", _CAPABILITIES)]}
    for route, pattern in table.get(method, []):
        match = pattern.fullmatch(path)
        if match is not None:
            return route, match
    return None, None


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    """Google's error body: ``{"error": {"code", "message", "status"}}``."""
    return code, {"error": {"code": code, "message": message, "status": _ERRORS.get(code, "UNKNOWN")}}


def _handler(fake: FakeRbm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._handle("POST")

        def do_GET(self) -> None:
            self._handle("GET")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def _handle(self, method: str) -> None:
            # The body is read first: a refusal with the request unread would reset the connection under the answer.
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            split = urlsplit(self.path)
            query = dict(parse_qsl(split.query))
            if method == "POST" and split.path == "/token":
                status, answer = fake._token(dict(parse_qsl(body.decode("utf-8"))))
                self._answer(status, answer, {})
                return
            outcome = fake._api(method, split.path, query, self.headers.get("authorization"), body)
            if outcome is None:  # the message is made; its answer is lost on the way back
                self.close_connection = True
                return
            status, answer = outcome
            self._answer(status, answer, {"Retry-After": fake.retry_after} if status == 429 else {})

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up: RBM's side does not care either

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the journal, not an access log."""

    return Handler
