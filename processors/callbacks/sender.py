"""One signed POST of a receipt to its callback URL, under the media fetcher's SSRF rules.

The URL is vetted again before every try (``processors.web.fetch.vet``: http(s), no credentials, ports 80/443
unless allow-listed, every address the name resolves to public) and the request goes to the vetted address itself,
with the original Host header and TLS name, so a DNS answer changed since the intake checked it cannot point it
inside the network. Redirects are not followed: a receiver answers 2xx or the try failed.
"""
from __future__ import annotations

import ssl

import httpx

from common.errors import TransientError
from processors.rules.addresses import AllowList
from processors.web.fetch import parse_url, vet
from processors.web.media_rejected import BLOCKED, MediaRejected


class TryFailed(Exception):
    """A try that did not get a 2xx; ``permanent`` when retrying cannot help (the URL is refused by the SSRF rules)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class CallbackSender:
    """POSTs bodies to vetted URLs; safe to call from several threads."""

    def __init__(self, allow: AllowList = AllowList(), timeout_s: float = 10.0, verify: ssl.SSLContext | bool = True) -> None:
        self._allow = allow
        self._timeout = httpx.Timeout(timeout_s)
        # No environment proxies (a proxy would resolve names itself) and no kept-alive connections: a pooled TLS
        # connection to one address must not carry another host's request under the first host's certificate.
        self._client = httpx.Client(verify=verify, trust_env=False, follow_redirects=False,
                                    limits=httpx.Limits(max_keepalive_connections=0))

    def close(self) -> None:
        self._client.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The 2xx status the receiver answered; ``TryFailed`` otherwise."""
        try:
            hop = vet(parse_url(url), self._allow)
        except MediaRejected as exc:
            raise TryFailed(f"refused: {exc.detail}", permanent=exc.reason == BLOCKED) from None
        except TransientError as exc:
            raise TryFailed(str(exc)) from None
        sent = {**headers, "Host": hop.host_header, "Content-Type": "application/json", "User-Agent": "courrier-callbacks/1"}
        try:
            response = self._client.post(hop.pinned, content=body, headers=sent, timeout=self._timeout,
                                         extensions={"sni_hostname": hop.server_name})
        except httpx.HTTPError as exc:
            raise TryFailed(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise TryFailed(f"HTTP {response.status_code}")
        return response.status_code
