"""Short links: every http(s) URL of an SMS text becomes ``<link base>/<token>``, before its segments are counted.

The token is derived from (message id, URL) alone, so re-rendering a message (a retry, a replay) gives the
same links. Each link's record (token → URL, message, recipient, campaign) goes to the compacted ``links``
topic, which the redirect service (``processors/links``) reads.
"""
from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from datetime import datetime

from processors.runtime.stage import Event, Output

ALPHABET = string.digits + string.ascii_letters  # GSM-7 and URL-safe
TOKEN_LENGTH = 12  # 71 bits: collisions stay negligible across billions of links
TOKEN = re.compile(rf"[0-9A-Za-z]{{{TOKEN_LENGTH}}}")
# A URL runs to the next space, quote or angle bracket; trailing punctuation is then given back to the sentence.
URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}"
HAS_HOST = re.compile(r"https?://[^/?#]", re.IGNORECASE)


@dataclass(frozen=True)
class ShortLink:
    """One shortened URL of a message."""

    token: str
    url: str


@dataclass(frozen=True)
class Shortened:
    """A text with its URLs replaced, and the links made (each distinct URL once, in order of appearance)."""

    text: str
    links: tuple[ShortLink, ...]


def link_base(domain: str) -> str:
    """The setting as a base URL: ``go.example.com`` → ``https://go.example.com``; no trailing slash."""
    domain = domain.strip().rstrip("/")
    return domain if re.match(r"https?://", domain, re.IGNORECASE) else f"https://{domain}"


def link_token(message_id: str, url: str) -> str:
    """``TOKEN_LENGTH`` base-62 characters of SHA-256(message id, URL)."""
    number = int.from_bytes(hashlib.sha256(f"{message_id}\n{url}".encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(TOKEN_LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(chars)


def url_end(candidate: str) -> int:
    """Where a URL matched by ``URL`` really ends: trailing punctuation is the sentence's, a closing bracket the URL's
    only when the URL opened it."""
    end = len(candidate)
    while end > 0 and candidate[end - 1] in TRAILING:
        closing = candidate[end - 1]
        opening = {")": "(", "]": "[", "}": "{"}.get(closing)
        if opening and candidate[:end].count(opening) >= candidate[:end].count(closing):
            break
        end -= 1
    return end


def shorten(text: str, message_id: str, base: str) -> Shortened:
    """Replace every URL of ``text`` not already on ``base`` with its short link; nothing else of the text changes."""
    links: dict[str, ShortLink] = {}
    own = base.lower() + "/"

    def replace(match: re.Match[str]) -> str:
        candidate = match.group(0)
        end = url_end(candidate)
        url, rest = candidate[:end], candidate[end:]
        if not HAS_HOST.match(url) or url.lower().startswith(own):
            return candidate
        link = links.setdefault(url, ShortLink(link_token(message_id, url), url))
        return f"{base}/{link.token}{rest}"

    return Shortened(URL.sub(replace, text), tuple(links.values()))


def link_records(links: tuple[ShortLink, ...], event: Event, channel: str, now: datetime) -> list[Output]:
    """The ``links`` records of a rendered message, keyed by token."""
    return [Output("links", link.token, {
        "token": link.token,
        "url": link.url,
        "context": event["context"],
        "recipient": event["recipient"]["e164"],
        "channel": channel,
        "template_id": event["template_id"],
        "created_at": now,
    }) for link in links]
