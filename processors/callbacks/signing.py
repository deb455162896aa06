"""Signing a callback and checking a signature, as Stripe does it: ``Courrier-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256, keyed by the API key's callback secret, of ``"<t>.<raw body>"``. The timestamp is
signed, so a captured callback can be replayed only within the receiver's tolerance (5 minutes by default). Several
``v1`` values are accepted (a secret being rotated signs with both). Each receipt is sent with
``Courrier-Receipt-Id``: the same id twice is the same receipt (a retry after a lost answer), to be dropped.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Courrier-Signature"
RECEIPT_ID_HEADER = "Courrier-Receipt-Id"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"


class SignatureError(ValueError):
    """A callback that does not verify: no or malformed header, signed too long ago (or ahead), or another secret or body."""


def new_secret() -> str:
    """A fresh callback secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Courrier-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = TOLERANCE_S) -> int:
    """The signed timestamp when ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``; else
    ``SignatureError`` saying which check failed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError(f"{SIGNATURE_HEADER} must read t=<unix seconds>,v1=<hex HMAC-SHA256>")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"signed at {timestamp}, {abs(now - timestamp):.0f}s from now: more than the {tolerance_s:g}s tolerated")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise SignatureError("the signature does not match this body and secret")
    return timestamp


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
