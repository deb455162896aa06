"""API key text and records: generation, the scanner-friendly format, salted hashes and constant-time checks.

A key reads ``courrier_live_<id>_<secret><checksum>``: a fixed prefix secret scanners can match, a
12-character public id (base62, what events carry), 43 random base62 characters (256 bits) and a
6-character CRC32 of everything before it, so a scanner or the server can tell a real-looking key
from a typo without any lookup. Only ``HMAC-SHA256(salt, key)`` and the salt are stored: the secret
has 256 bits of entropy, so no slow password hash is needed against guessing, and a fast one keeps
each request's check cheap (a deliberately slow hash on every call would be a CPU lever for attackers).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PREFIX = "courrier_live_"
ALPHABET = string.digits + string.ascii_letters
ID_CHARS = 12
SECRET_CHARS = 43  # 43 × log2(62) ≈ 256 bits
CHECKSUM_CHARS = 6  # 62**6 > 2**32 holds any CRC32
HASH_SCHEME = "hmac-sha256"
SALT_BYTES = 16
# What a secret scanner can match (GitHub custom pattern, gitleaks, trufflehog…).
PATTERN = re.compile(rf"{PREFIX}([0-9A-Za-z]{{{ID_CHARS}}})_([0-9A-Za-z]{{{SECRET_CHARS + CHECKSUM_CHARS}}})")
# Compared against when the id is unknown, so an unknown id costs the same work as a wrong secret.
_DUMMY_SALT = secrets.token_bytes(SALT_BYTES)
_DUMMY_HASH = secrets.token_bytes(32)


@dataclass(frozen=True)
class NewKey:
    """A key just created: its text, shown once, and the record stored in its place."""

    key: str
    record: dict[str, Any]

    @property
    def key_id(self) -> str:
        return str(self.record["key_id"])


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def checksum(body: str) -> str:
    """CRC32 of ``body`` in fixed-width base62."""
    value = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(CHECKSUM_CHARS):
        value, digit = divmod(value, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def generate_key(key_id: str | None = None) -> str:
    """A fresh key (with a fresh id unless one is given)."""
    body = f"{PREFIX}{key_id or _random(ID_CHARS)}_{_random(SECRET_CHARS)}"
    return body + checksum(body)


def key_id_of(token: str) -> str | None:
    """The public id of a well-formed key whose checksum holds, else None."""
    match = PATTERN.fullmatch(token)
    if match is None:
        return None
    body, check = token[:-CHECKSUM_CHARS], token[-CHECKSUM_CHARS:]
    return match.group(1) if hmac.compare_digest(checksum(body), check) else None


def hash_key(token: str, salt: bytes) -> bytes:
    """The stored form of a key: HMAC-SHA256 of its whole text keyed by its salt."""
    return hmac.new(salt, token.encode("utf-8"), hashlib.sha256).digest()


def verify(token: str, record: dict[str, Any] | None) -> bool:
    """Whether ``token`` is the key ``record`` stores; constant-time, and as costly when ``record`` is None."""
    if record is None or record["hash_scheme"] != HASH_SCHEME:
        hmac.compare_digest(hash_key(token, _DUMMY_SALT), _DUMMY_HASH)
        return False
    return hmac.compare_digest(hash_key(token, record["salt"]), record["hash"])


def new_key(name: str, scopes: tuple[str, ...], now: datetime, rate_per_s: float | None = None, burst: int | None = None,
            countries: tuple[str, ...] | None = None) -> NewKey:
    """A new key and its ``api-keys`` record (scopes as given, limits None for the defaults, ``countries`` None for any)."""
    token = generate_key()
    salt = secrets.token_bytes(SALT_BYTES)
    record = {
        "key_id": key_id_of(token), "name": name, "scopes": list(scopes), "hash_scheme": HASH_SCHEME, "salt": salt,
        "hash": hash_key(token, salt), "rate_per_s": rate_per_s, "burst": burst, "created_at": now, "revoked_at": None,
        "countries": list(countries) if countries else None,
    }
    return NewKey(token, record)


def revoked(record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``record`` revoked at ``now`` (an already revoked record keeps its first revocation time)."""
    return {**record, "revoked_at": record["revoked_at"] or now}
