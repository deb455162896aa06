"""For tests: a private simulator in a thread, a client of its control routes, and a webhook collector.

A test that changes faults runs its own simulator (``private_sim``) so it never disturbs the session's shared one
(``Settings.sim_address``), which other tests count submissions on. Everything listens on 127.0.0.1, port chosen by the OS.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn

from sim.app import create_app
from sim.credentials import LOCAL_AGENT_ID, ProviderCredentials
from sim.simulator import SimOptions


@dataclass
class SimControl:
    """A simulator's base URL, legacy token and providers' credentials, and its ``/_sim/*`` routes as methods."""

    url: str
    token: str = "courrier-dev-token"
    credentials: ProviderCredentials | None = None
    agent_id: str = LOCAL_AGENT_ID

    def service_account(self) -> dict[str, str]:
        """The RBM service account key file's content, its ``token_uri`` this simulator's ``/token``."""
        assert self.credentials is not None, "a simulator started with known credentials"
        return {**self.credentials.service_account, "token_uri": f"{self.url}/token"}

    def twilio_api(self) -> str:
        """The Messages resource's URL of this simulator's Twilio account."""
        assert self.credentials is not None, "a simulator started with known credentials"
        return f"{self.url}/2010-04-01/Accounts/{self.credentials.twilio_account_sid}/Messages.json"

    def twilio_auth(self) -> tuple[str, str]:
        assert self.credentials is not None, "a simulator started with known credentials"
        return self.credentials.twilio_account_sid, self.credentials.twilio_auth_token

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.url}{path}", timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change faults (``/_sim/config``); returns the whole configuration now in force."""
        return self._call("POST", "/_sim/config", json=changes)

    def stats(self, prefix: str = "") -> dict[str, Any]:
        return self._call("GET", "/_sim/stats", params={"prefix": prefix})

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")

    def inbound(self, sender: str, to: str | None, text: str, provider: str = "aggregator", **more: Any) -> str:
        """Make the simulator post an inbound message from ``sender`` (E.164) to ``to`` (our sender; None for RBM) as
        ``provider`` posts it (``more``: ``postback_data``, ``typing``, ``media_urls``); its event id."""
        body = {"from": sender, "text": text, "provider": provider, **more, **({"to": to} if to is not None else {})}
        return self._call("POST", "/_sim/inbound", json=body)["event_id"]

    def fail_next(self, provider: str, *faults: str) -> list[str]:
        """``provider``'s next send requests each meet one of ``faults``, in order; the queue now."""
        return self._call("POST", "/_sim/fail_next", json={"provider": provider, "faults": list(faults)})["queued"]


@contextmanager
def served_in_thread(app: Any, name: str, start_timeout_s: float = 90.0, **config: Any) -> Iterator[str]:
    """An ASGI ``app`` served by uvicorn in a daemon thread on 127.0.0.1, port chosen by the OS: yields its base URL, and
    stops it (lifespan shutdown included) on exit. ``config``: more ``uvicorn.Config`` options."""
    options = {"log_config": None, "access_log": False, "lifespan": "on", **config}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **options))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(10)
        raise RuntimeError(f"{name} did not start (see the log above)")
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def private_sim(options: SimOptions | None = None, **faults: Any) -> Iterator[SimControl]:
    """A simulator of this test's own, served by uvicorn in a thread (no webhooks unless ``options`` names a URL), with
    credentials the test knows (``SimControl.credentials``)."""
    options = options or SimOptions(webhook_url=None)
    if options.credentials is None:
        options = replace(options, credentials=ProviderCredentials.generate("http://127.0.0.1/token"))
    # A held answer (timeout_rate) must not keep the test waiting at shutdown.
    with served_in_thread(create_app(options), "private-sim", 30.0, timeout_graceful_shutdown=1) as url:
        control = SimControl(url, options.token, options.credentials, options.rbm_agent_id)
        if faults:
            control.configure(**faults)
        yield control


@dataclass
class Received:
    """One webhook post as it arrived."""

    headers: dict[str, str]
    body: bytes
    path: str = ""  # the path and query it was posted to

    @property
    def event(self) -> dict[str, Any]:
        """A JSON body (a legacy event, an RBM push envelope)."""
        return json.loads(self.body)

    @property
    def rbm_event(self) -> dict[str, Any]:
        """The RBM event a Pub/Sub push envelope carries (its base64 ``message.data``)."""
        return json.loads(base64.b64decode(self.event["message"]["data"]))

    @property
    def form(self) -> dict[str, str]:
        """A form body (Twilio's), one value per name."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class WebhookCollector:
    """A tiny HTTP receiver that keeps every post; it answers ``fail_first`` posts with 500 before it answers 204."""

    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received]

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        """At least ``count`` posts (or what came within ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self._lock:
            return list(self.received)

    @property
    def origin(self) -> str:
        """The collector's ``http://127.0.0.1:<port>``: any path under it is received too."""
        return self.url.removesuffix("/webhooks/sim")

    def _take(self, headers: dict[str, str], body: bytes, path: str) -> int:
        with self._lock:
            if self.refused < self.fail_first:
                self.refused += 1
                return 500
            self.received.append(Received(headers, body, path))
            return 204


@contextmanager
def webhook_collector(fail_first: int = 0) -> Iterator[WebhookCollector]:
    """A ``WebhookCollector`` listening on 127.0.0.1 until the block ends; its ``url`` is the webhook URL to configure."""
    collector = WebhookCollector(fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(collector._take({k.lower(): v for k, v in self.headers.items()}, body, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # quiet: the test reads what arrived
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    collector.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/sim"
    thread = threading.Thread(target=server.serve_forever, name="webhook-collector", daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
