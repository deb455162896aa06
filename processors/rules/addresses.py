"""Which network addresses a media fetch may reach: public unicast addresses only, unless the operator allow-lists a host.

Checked on the addresses a name resolves to (never on the name), for the first URL and every redirect. An
IPv6 address that embeds an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by the IPv4 address it reaches.
Prefixes no public host uses are refused whatever they embed, since a local translator may carry them
anywhere: IPv4-compatible ``::a.b.c.d`` (deprecated, RFC 4291), IPv4-translated ``::ffff:0:a.b.c.d``
(SIIT, RFC 2765), local-use NAT64 ``64:ff9b:1::/48`` (RFC 8215, its IPv4 at an operator-chosen offset)
and site-local ``fec0::/10`` (deprecated, RFC 3879).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata endpoints: named apart so the detail says what a request was after.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
# What an SSRF aims at, by name (``is_global`` below refuses all of these too; the names make the detail readable).
_NAMED = tuple((ipaddress.ip_network(network), name) for network, name in (
    ("0.0.0.0/8", "unspecified"), ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"), ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"), ("fe80::/10", "link-local"),
    ("10.0.0.0/8", "private"), ("172.16.0.0/12", "private"), ("192.168.0.0/16", "private"), ("fc00::/7", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("224.0.0.0/4", "multicast"), ("ff00::/8", "multicast"),
    ("fec0::/10", "site-local"),
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 prefixes refused whatever IPv4 address they may embed (see the module's docstring).
_TRANSLATED = tuple((ipaddress.ip_network(network), name) for network, name in (
    ("::/96", "IPv4-compatible"), ("::ffff:0:0:0/96", "IPv4-translated"), ("64:ff9b:1::/48", "local-use NAT64"),
))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through mapping, NAT64, 6to4 or Teredo, if it does."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if int(address) >> 32 in (0, 0xFFFF0000) and int(address) > 1:  # IPv4-compatible or IPv4-translated (not :: nor ::1)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_because(address: IPAddress) -> str | None:
    """Why a fetch must not connect to ``address`` (``loopback``, ``private``, ``metadata``…), or None for a public one."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = blocked_because(inner)
        if reason is None:
            reason = next((name for network, name in _TRANSLATED if address in network), None)
        return f"{reason} via {address}" if reason else None
    if address in METADATA:
        return "cloud metadata"
    for network, name in _NAMED + _TRANSLATED:  # local-use NAT64: no IPv4 to read, and no public host behind it
        if address.version == network.version and address in network:
            return name
    if not address.is_global or address.is_multicast:  # reserved, documentation, benchmarking… ranges
        return "not a public address"
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts a fetch may reach whatever they resolve to: ``host`` (any port) or ``host:port`` entries, names as written
    in the URL (``127.0.0.1:8080`` allows that URL host and port, not a name that resolves to it)."""

    entries: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def parse(cls, setting: str) -> "AllowList":
        """``"127.0.0.1:8080, media.internal"`` → an allow-list; ``ValueError`` naming an entry that is not host[:port]."""
        entries = set()
        for raw in (part.strip() for part in setting.split(",")):
            if not raw:
                continue
            try:
                parts = urlsplit(f"//{raw}")
                host, port = parts.hostname, parts.port
            except ValueError as exc:
                raise ValueError(f"media allow-list entry {raw!r}: {exc}") from None
            if not host or parts.path or parts.username is not None:
                raise ValueError(f"media allow-list entry {raw!r} is not host or host:port")
            entries.add((host.lower(), port))
        return cls(frozenset(entries))

    def allows(self, host: str, port: int) -> bool:
        """Whether the URL host (as written, case-insensitive) and port were allow-listed."""
        host = host.lower().strip("[]")
        return (host, port) in self.entries or (host, None) in self.entries
