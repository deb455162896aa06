"""Media fetches: the SSRF rules, proven without a packet leaving the machine, and the size, time and redirect caps.

Every test runs in a network sandbox: DNS answers only the names a test gives, and a connection to any
non-loopback address fails the test (``network.refused`` must stay empty). The only server is a local one.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from media_http import MediaServer, Network, sandboxed, self_signed

from common.errors import TransientError
from processors.rules.addresses import AllowList
from processors.web.fetch import FetchLimits, MediaFetcher
from processors.web.media_rejected import BLOCKED, FETCH_FAILED, TOO_LARGE, MediaRejected

BODY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def network(monkeypatch) -> Iterator[Network]:
    with sandboxed(monkeypatch) as sandbox:
        yield sandbox
    assert sandbox.refused == [], "a fetch tried to reach a non-loopback address"


@pytest.fixture
def server(network: Network) -> Iterator[MediaServer]:
    with MediaServer() as running:
        yield running


def fetcher(*allowed: str, **limits: float) -> MediaFetcher:
    return MediaFetcher(AllowList.parse(",".join(allowed)), FetchLimits(**limits))  # type: ignore[arg-type]


def rejected(fetch: MediaFetcher, url: str) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        fetch.fetch(url)
    return caught.value


def test_an_allow_listed_server_is_fetched_with_its_own_host_header(server: MediaServer) -> None:
    url = server.add("/photo.png", BODY, headers={"Content-Type": "image/png"})
    fetched = fetcher(server.host).fetch(url)
    assert (fetched.url, fetched.body) == (url, BODY)
    assert server.requests == [("/photo.png", server.host)]


def test_loopback_is_blocked_unless_allow_listed(server: MediaServer) -> None:
    url = server.add("/photo.png", BODY)
    assert rejected(fetcher(), url).detail.endswith(f"port {server.port} is not 80 or 443 and {server.host} is not allow-listed")
    assert rejected(fetcher("127.0.0.1:1"), url).reason == BLOCKED  # another port of the same host is not allowed
    error = rejected(fetcher(), "http://127.0.0.1/photo.png")  # on port 80 the address itself is refused
    assert (error.reason, error.detail) == (BLOCKED, "http://127.0.0.1/photo.png: 127.0.0.1 (loopback)")
    assert server.requests == []  # refused before connecting
    assert fetcher("127.0.0.1").fetch(url).body == BODY  # a host entry without a port allows every port


@pytest.mark.parametrize(("url", "why"), [
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://10.0.0.1/image.png", "private"),
    ("http://192.168.1.10/image.png", "private"),
    ("http://172.16.5.5/image.png", "private"),
    ("http://100.64.0.1/image.png", "carrier-grade NAT"),
    ("http://169.254.10.10/image.png", "link-local"),
    ("http://[fe80::1]/image.png", "link-local"),
    ("http://[::1]/image.png", "loopback"),
    ("http://0.0.0.0/image.png", "unspecified"),
    ("http://224.0.0.1/image.png", "multicast"),
    ("http://[::ffff:10.0.0.1]/image.png", "private via ::ffff:a00:1"),
    ("http://2130706433/image.png", "loopback"),  # 127.0.0.1 written as one number
    ("http://0x7f.1/image.png", "loopback"),
])
def test_internal_addresses_are_blocked_before_any_connection(network: Network, url: str, why: str) -> None:
    error = rejected(fetcher(), url)
    assert error.reason == BLOCKED
    assert f"({why})" in error.detail


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "fd00:ec2::254"])
def test_a_name_resolving_to_an_internal_address_is_blocked(network: Network, address: str) -> None:
    network.names["media.example.com"] = [address]
    error = rejected(fetcher(), "https://media.example.com/cat.png")
    assert error.reason == BLOCKED and f"media.example.com resolves to {address}" in error.detail


def test_one_internal_answer_among_public_ones_is_enough_to_block(network: Network) -> None:
    network.names["cdn.example.com"] = ["93.184.216.34", "10.0.0.7"]
    assert "resolves to 10.0.0.7 (private)" in rejected(fetcher(), "https://cdn.example.com/a.png").detail


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/internal.png",
    "http://[::ffff:127.0.0.1]:{port}/photo.png",
    "http://127.0.0.1:{other}/photo.png",
    "http://localhost:{port}/photo.png",
    "http://internal.example.com/photo.png",
])
def test_a_redirect_to_an_internal_address_is_blocked(network: Network, server: MediaServer, target: str) -> None:
    network.names["internal.example.com"] = ["10.1.2.3"]
    network.names["localhost"] = ["127.0.0.1"]
    server.add("/photo.png", BODY)
    url = server.redirect("/go", target.format(port=server.port, other=server.port + 1))
    error = rejected(fetcher(server.host), url)
    assert error.reason == BLOCKED
    assert server.paths() == ["/go"]  # the redirect was read, its target never requested


def test_redirects_are_followed_and_each_hop_vetted(server: MediaServer) -> None:
    server.add("/photo.png", BODY)
    server.redirect("/3", "/photo.png", 301)
    server.redirect("/2", server.url("/3"), 307)
    url = server.redirect("/1", "/2", 303)
    fetched = fetcher(server.host).fetch(url)
    assert (fetched.url, fetched.body) == (server.url("/photo.png"), BODY)
    assert server.paths() == ["/1", "/2", "/3", "/photo.png"]
    server.redirect("/0", "/1")
    error = rejected(fetcher(server.host), server.url("/0"))
    assert (error.reason, error.detail) == (FETCH_FAILED, f"{server.url('/0')}: more than 3 redirects")


def test_the_vetted_address_is_pinned_so_dns_rebinding_cannot_swap_it(network: Network, server: MediaServer) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])  # a second lookup would be steered inside

    class Rebinding(list):
        def __iter__(self):
            return iter(next(answers))

    network.names["media.example.com"] = Rebinding()
    server.add("/photo.png", BODY)
    fetched = fetcher(f"media.example.com:{server.port}").fetch(f"http://media.example.com:{server.port}/photo.png")
    assert fetched.body == BODY
    assert network.lookups.count("media.example.com") == 1
    assert server.requests == [("/photo.png", f"media.example.com:{server.port}")]


def test_https_connects_to_the_pinned_address_with_the_names_sni_and_certificate(network: Network, tmp_path) -> None:
    server_tls, client_tls = self_signed(tmp_path, "media.example.com")
    network.names["media.example.com"] = ["127.0.0.1"]
    with MediaServer(server_tls) as server:
        server.add("/photo.png", BODY)
        fetch = MediaFetcher(AllowList.parse(f"media.example.com:{server.port}"), verify=client_tls)
        assert fetch.fetch(f"https://media.example.com:{server.port}/photo.png").body == BODY
        assert server.server_names == ["media.example.com"]
        assert server.requests == [("/photo.png", f"media.example.com:{server.port}")]
        # The same server under its address: the certificate does not name 127.0.0.1, which will not change on a retry.
        error = rejected(MediaFetcher(AllowList.parse(server.host), verify=client_tls), server.url("/photo.png"))
        assert error.reason == FETCH_FAILED and "TLS refused" in error.detail


@pytest.mark.parametrize(("url", "detail"), [
    ("file:///etc/passwd", "only http(s) URLs with a host are fetched"),
    ("gopher://example.com/", "only http(s) URLs with a host are fetched"),
    ("http://user:secret@example.com/a.png", "URLs with credentials are not fetched"),
    ("http://example.com:8080/a.png", "port 8080 is not 80 or 443"),
])
def test_schemes_credentials_and_ports(network: Network, url: str, detail: str) -> None:
    error = rejected(fetcher(), url)
    assert error.reason == BLOCKED and detail in error.detail
    assert "secret" not in error.detail
    assert network.lookups == []  # refused before even resolving


def test_a_body_over_the_cap_is_refused_by_its_length_or_while_streaming(server: MediaServer) -> None:
    declared = server.add("/declared", b"x" * 5000)
    streamed = server.add("/streamed", b"x" * 5000, chunked=True, chunks=10)
    fetch = fetcher(server.host, max_bytes=4000)
    assert rejected(fetch, declared).detail.endswith("Content-Length 5,000 bytes; the cap is 4,000")
    error = rejected(fetch, streamed)
    assert (error.reason, error.detail) == (TOO_LARGE, f"{streamed}: more than 4,000 bytes; the cap is 4,000")
    assert fetcher(server.host, max_bytes=5000).fetch(streamed).body == b"x" * 5000


def test_time_caps_are_transient(server: MediaServer) -> None:
    silent = server.add("/silent", b"late", delay_s=1.0)
    with pytest.raises(TransientError, match="timed out"):
        fetcher(server.host, read_timeout_s=0.2).fetch(silent)
    dripping = server.add("/drip", b"x" * 10, chunked=True, chunks=10, delay_s=0.15)
    with pytest.raises(TransientError, match="not downloaded within 0.5s"):
        fetcher(server.host, total_timeout_s=0.5).fetch(dripping)


@pytest.mark.parametrize(("status", "transient"), [(500, True), (503, True), (429, True), (408, True), (404, False), (403, False), (410, False)])
def test_statuses(server: MediaServer, status: int, transient: bool) -> None:
    url = server.add("/s", b"no", status=status)
    if transient:
        with pytest.raises(TransientError, match=f"HTTP {status}"):
            fetcher(server.host).fetch(url)
    else:
        assert (rejected(fetcher(server.host), url).detail) == f"{url}: HTTP {status}"


def test_a_refused_connection_is_transient(network: Network) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="ConnectError"):
        fetcher(f"127.0.0.1:{port}").fetch(f"http://127.0.0.1:{port}/a.png")


def test_names_that_do_not_resolve(network: Network) -> None:
    network.names["gone.example.com"] = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    network.names["flaky.example.com"] = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    error = rejected(fetcher(), "https://gone.example.com/a.png")
    assert (error.reason, error.detail) == (FETCH_FAILED, "https://gone.example.com/a.png: cannot resolve gone.example.com "
                                                          "(Name or service not known)")
    with pytest.raises(TransientError, match="try again"):
        fetcher().fetch("https://flaky.example.com/a.png")


def test_a_redirect_without_location_fails(server: MediaServer) -> None:
    url = server.add("/nowhere", status=302)
    assert rejected(fetcher(server.host), url).detail == f"{url}: HTTP 302 without a Location"
