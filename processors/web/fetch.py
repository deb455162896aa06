"""Fetching media by URL without letting the URL reach internal addresses (SSRF).

Each hop is vetted before anything is sent: http(s) only, no credentials in the URL, ports 80/443 (other
ports only for allow-listed hosts), and every address the host resolves to must be public. The request
then goes to the vetted address itself, with the original Host header and TLS server name, so a second
DNS answer (rebinding) cannot swap the address. Redirects are followed by hand and each target is vetted
the same way; bodies are streamed and cut at the size cap; one deadline covers the whole fetch.
"""
from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import httpx

from common.errors import TransientError
from processors.rules.addresses import AllowList, blocked_because
from processors.web.media_rejected import BLOCKED, FETCH_FAILED, TOO_LARGE, MediaRejected

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Statuses that say "later" rather than "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429})
PUBLIC_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class FetchLimits:
    """Caps of one fetch: bytes downloaded, seconds to connect, between two reads and in all, redirects followed."""

    max_bytes: int = 10 * 1024 * 1024
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_redirects: int = 3


@dataclass(frozen=True)
class Fetched:
    """A downloaded body and the URL it finally came from (after redirects)."""

    url: str
    body: bytes


@dataclass(frozen=True)
class Hop:
    """One vetted request: the URL as written, the address to connect to, and the Host header and TLS name to send.

    Whoever sends it connects to ``pinned`` with ``host_header`` and the TLS name ``server_name`` (status callbacks
    reuse it: ``processors.callbacks.sender``)."""

    url: httpx.URL
    address: str
    host_header: str
    server_name: str

    @property
    def pinned(self) -> httpx.URL:
        return self.url.copy_with(host=self.address)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself without DNS)."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def parse_url(url: str) -> httpx.URL:
    """``url`` parsed, or ``MediaRejected``: http(s) with a host and no credentials only."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise MediaRejected(FETCH_FAILED, f"not a URL: {url[:200]!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise MediaRejected(BLOCKED, f"only http(s) URLs with a host are fetched, not {url[:200]!r}")
    if parsed.userinfo:
        raise MediaRejected(BLOCKED, f"{parsed.copy_with(userinfo=b'')}: URLs with credentials are not fetched")
    return parsed


def vet(url: httpx.URL, allow: AllowList) -> Hop:
    """Resolve the host once and choose the address to pin, or refuse the hop: the SSRF guard of every outgoing URL
    Courrier is given (media, status callbacks). ``MediaRejected`` ``BLOCKED`` for an
    address the SSRF rules refuse, ``FETCH_FAILED`` for a name that does not resolve; ``TransientError`` for DNS
    answering "try again")."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    allowed = allow.allows(host, port)
    if not allowed and port not in PUBLIC_PORTS:
        raise MediaRejected(BLOCKED, f"{url}: port {port} is not 80 or 443 and {host}:{port} is not allow-listed")
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientError(f"host {host}: DNS answered 'try again'") from exc
        raise MediaRejected(FETCH_FAILED, f"{url}: cannot resolve {host} ({exc.strerror})") from None
    except (UnicodeError, ValueError) as exc:
        raise MediaRejected(FETCH_FAILED, f"{url}: cannot resolve {host} ({exc})") from None
    if not addresses:
        raise MediaRejected(FETCH_FAILED, f"{url}: {host} resolves to no address")
    if not allowed:
        # Every answer must be public: a name answering one public and one internal address is refused outright.
        for address in addresses:
            why = blocked_because(address)
            if why:
                where = str(address) if str(address) == host else f"{host} resolves to {address}"
                raise MediaRejected(BLOCKED, f"{url}: {where} ({why})")
    bracketed = f"[{host}]" if ":" in host else host
    return Hop(url, str(addresses[0]), f"{bracketed}:{url.port}" if url.port else bracketed, host)


class MediaFetcher:
    """Downloads one media URL under the SSRF rules and the limits; ``MediaRejected`` for what will not change on a retry,
    ``TransientError`` for what may (timeouts, refused connections, 5xx, 429)."""

    def __init__(self, allow: AllowList = AllowList(), limits: FetchLimits = FetchLimits(),
                 verify: ssl.SSLContext | bool = True) -> None:
        self._allow = allow
        self._limits = limits
        # No environment proxies (a proxy would resolve names itself) and no kept-alive connections: a pooled TLS
        # connection to one address must not carry another host's request under the first host's certificate.
        self._client = httpx.Client(verify=verify, trust_env=False, follow_redirects=False,
                                    limits=httpx.Limits(max_keepalive_connections=0))

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str) -> Fetched:
        """The body at ``url``, following at most ``max_redirects`` redirects, each vetted before it is requested."""
        deadline = time.monotonic() + self._limits.total_timeout_s
        current = parse_url(url)
        for _ in range(self._limits.max_redirects + 1):
            hop = vet(current, self._allow)
            location, body = self._request(hop, deadline)
            if body is not None:
                return Fetched(str(current), body)
            current = parse_url(str(current.join(location)))
        raise MediaRejected(FETCH_FAILED, f"{url}: more than {self._limits.max_redirects} redirects")

    def _request(self, hop: Hop, deadline: float) -> tuple[str | None, bytes | None]:
        """(redirect location, None) or (None, body) for one vetted hop."""
        timeout = self._timeout(deadline)
        headers = {"Host": hop.host_header, "Accept-Encoding": "identity", "User-Agent": "courrier-media/1",
                   "Accept": "image/jpeg, image/png, image/gif, text/vcard, text/x-vcard;q=0.9, */*;q=0.1"}
        try:
            with self._client.stream("GET", hop.pinned, headers=headers, timeout=timeout,
                                     extensions={"sni_hostname": hop.server_name}) as response:
                status = response.status_code
                if status in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise MediaRejected(FETCH_FAILED, f"{hop.url}: HTTP {status} without a Location")
                    return location, None
                if status >= 500 or status in TRANSIENT_STATUSES:
                    raise TransientError(f"media {hop.url}: HTTP {status}")
                if status != 200:
                    raise MediaRejected(FETCH_FAILED, f"{hop.url}: HTTP {status}")
                return None, self._read(hop, response, deadline)
        except httpx.TimeoutException as exc:
            raise TransientError(f"media {hop.url}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            if _tls_refused(exc):
                raise MediaRejected(FETCH_FAILED, f"{hop.url}: TLS refused ({exc})") from None
            raise TransientError(f"media {hop.url}: {type(exc).__name__}: {exc}") from exc

    def _read(self, hop: Hop, response: httpx.Response, deadline: float) -> bytes:
        cap = self._limits.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise MediaRejected(TOO_LARGE, f"{hop.url}: Content-Length {int(declared):,} bytes; the cap is {cap:,}")
        chunks: list[bytes] = []
        size = 0
        # Raw bytes, never decompressed here: a gzip body could expand a thousandfold inside a single chunk.
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > cap:
                raise MediaRejected(TOO_LARGE, f"{hop.url}: more than {cap:,} bytes; the cap is {cap:,}")
            if time.monotonic() > deadline:
                raise TransientError(f"media {hop.url}: not downloaded within {self._limits.total_timeout_s:g}s")
            chunks.append(chunk)
        return b"".join(chunks)

    def _timeout(self, deadline: float) -> httpx.Timeout:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransientError(f"media fetch: not done within {self._limits.total_timeout_s:g}s")
        return httpx.Timeout(min(self._limits.read_timeout_s, left), connect=min(self._limits.connect_timeout_s, left))


def _tls_refused(exc: BaseException) -> bool:
    """A certificate that does not verify is the server's configuration, not a passing failure."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
