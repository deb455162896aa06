"""Test helpers for media fetches: a hand-written HTTP(S) server on 127.0.0.1, and a network sandbox in which DNS
answers only what a test says and any connection to a non-loopback address fails (so no packet ever leaves)."""
from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    """What the server answers on one path: a status, headers and a body sent in ``chunks`` pieces ``delay_s`` apart."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    delay_s: float = 0.0
    chunks: int = 1


class MediaServer:
    """A threaded HTTP server on 127.0.0.1 (TLS when given a context) answering the routes a test adds, and noting
    every request it got (path, Host header, TLS server name)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.server_names: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests.append((self.path, self.headers.get("Host")))
                route = server.routes.get(self.path.split("?")[0], Route(b"not here", 404))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(route.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                size = max(1, -(-len(route.body) // route.chunks))
                try:
                    for start in range(0, len(route.body), size):
                        time.sleep(route.delay_s)
                        piece = route.body[start:start + size]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if route.chunked else piece)
                        self.wfile.flush()
                    if route.chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client stopped reading: that is the test
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="media-test-server", daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what an allow-list entry for this server says."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def add(self, path: str, body: bytes = b"", **options: object) -> str:
        """Serve ``body`` on ``path``; the URL to fetch it."""
        self.routes[path] = Route(body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        return self.add(path, status=status, headers={"Location": to})

    def paths(self) -> list[str]:
        return [path for path, _host in self.requests]

    def __enter__(self) -> "MediaServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class Network:
    """The sandbox of one test: ``names`` is the whole DNS (name → addresses), ``refused`` every non-loopback connect
    attempt (each also fails), ``lookups`` every name looked up."""

    def __init__(self) -> None:
        self.names: dict[str, list[str] | Exception] = {}
        self.refused: list[object] = []
        self.lookups: list[str] = []


@contextmanager
def sandboxed(monkeypatch) -> Iterator[Network]:
    """Install the sandbox: stub ``socket.getaddrinfo`` and guard ``socket.socket.connect``/``connect_ex``."""
    network = Network()
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 (socket's own parameter names)
        name = host.decode() if isinstance(host, bytes) else host
        network.lookups.append(name)
        if name in network.names:
            answer = network.names[name]
            if isinstance(answer, Exception):
                raise answer
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in answer]
        # IP literals only: AI_NUMERICHOST makes a name fail here instead of sending a DNS query.
        return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def guard(address: object) -> None:
        if isinstance(address, tuple) and not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            network.refused.append(address)
            raise AssertionError(f"a test tried to connect to {address}")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield network


def self_signed(directory: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for ``name``: (the server's TLS context, a client context that trusts only it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client
