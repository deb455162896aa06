"""HMAC-SHA256 signatures with a timestamp, as the simulator (and Stripe-style providers) send them.

``X-Courrier-Timestamp: <unix seconds>`` and ``X-Courrier-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``.
Several ``v1=`` values separated by commas are accepted (a provider rotating its secret signs with both). The
timestamp is signed, so a captured request can be replayed only within ``tolerance_s`` of its signing time.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from processors.web.webhook_contract import Rejected

TIMESTAMP_HEADER = "x-courrier-timestamp"
SIGNATURE_HEADER = "x-courrier-signature"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Courrier-Signature`` value of ``body`` signed at ``timestamp``."""
    return f"v1={_digest(secret.encode(), str(timestamp).encode(), body)}"


def _digest(secret: bytes, timestamp: bytes, body: bytes) -> str:
    return hmac.new(secret, timestamp + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HmacVerifier:
    """Checks one provider's signed requests against its secret."""

    secret: str
    tolerance_s: float

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The request's matching signature (hex); ``Rejected`` 401 when unsigned or signed too long ago or ahead, 403 when
        signed with another secret or over another body."""
        timestamp, header = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
        if not timestamp or not header:
            raise Rejected(401, "unsigned", "X-Courrier-Timestamp and X-Courrier-Signature are required")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise Rejected(401, "bad_timestamp", "X-Courrier-Timestamp must be a time in unix seconds")
        expected = _digest(self.secret.encode(), timestamp.encode(), body)
        offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
        # Every candidate is compared in constant time; only well-formed ones reach compare_digest (it wants ASCII).
        matched = [c for c in offered if _HEX_DIGEST.fullmatch(c) and hmac.compare_digest(c, expected)]
        if not matched:
            raise Rejected(403, "bad_signature", "no v1 signature of this body and timestamp matches the shared secret")
        skew = now - int(timestamp)
        if abs(skew) > self.tolerance_s:
            when = f"{skew:.0f} s ago" if skew > 0 else f"{-skew:.0f} s ahead"
            raise Rejected(401, "stale_timestamp", f"signed {when}; requests are accepted within {self.tolerance_s:.0f} s of their timestamp")
        return matched[0]
