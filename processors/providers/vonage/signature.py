"""Vonage's signed webhooks: ``Authorization: Bearer <JWT>``, the JWT signed HS256 with the account's signature secret.

As Vonage documents them (developer.vonage.com/messages/concepts/signed-webhooks, and its "Validating Inbound Messages
From the Vonage Messages API" guide): every Messages API webhook, status or inbound, carries the JWT; its claims hold
``iat`` (when it was signed, unix seconds), ``payload_hash`` (hex SHA-256 of the raw body), ``api_key``,
``application_id`` and ``jti``. A request is genuine when the token verifies with the secret (HS256 only: no other
algorithm is accepted, so a token cannot choose its own check), its ``payload_hash`` is the body's, and its ``iat`` is
within ``tolerance_s`` of now — the hash binds the token to this body, the ``iat`` bounds how long a captured request
can be replayed, and the receiver's replay memory covers that window.

Answers: no ``Authorization: Bearer`` header → 401 ``unsigned``; a token this secret did not sign, or signed for
another body → 403 ``bad_signature``; ``iat`` missing → 401 ``bad_timestamp``; too old or too far ahead → 401
``stale_timestamp``.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping

import jwt

from processors.web.webhook_contract import Rejected

AUTHORIZATION = "authorization"


def payload_hash(body: bytes) -> str:
    """The ``payload_hash`` claim of ``body``: its SHA-256, lower-case hex."""
    return hashlib.sha256(body).hexdigest()


def sign(secret: str, body: bytes, issued_at: int, api_key: str = "", application_id: str = "") -> str:
    """The JWT Vonage would put in the ``Authorization: Bearer`` header of a webhook posting ``body`` at ``issued_at``."""
    claims = {"iat": issued_at, "jti": str(uuid.uuid4()), "iss": "Vonage", "payload_hash": payload_hash(body),
              "api_key": api_key, "application_id": application_id}
    return jwt.encode(claims, secret, algorithm="HS256")


class VonageVerifier:
    """Checks a webhook's bearer JWT against the signature secret, the body and the clock."""

    def __init__(self, signature_secret: str, tolerance_s: float) -> None:
        self._secret = signature_secret
        self._tolerance_s = tolerance_s

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The token's signature segment when the request is genuine; ``Rejected`` (401/403, see the module) otherwise."""
        scheme, _, token = headers.get(AUTHORIZATION, "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Rejected(401, "unsigned", "Authorization: Bearer <JWT signed with the signature secret> is required")
        try:
            # Times are checked below against the receiver's clock; pyjwt checks the signature and the algorithm.
            claims = jwt.decode(token, self._secret, algorithms=["HS256"],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except (jwt.PyJWTError, ValueError):
            raise Rejected(403, "bad_signature", "the bearer token is not a JWT signed with the signature secret") from None
        offered = claims.get("payload_hash")
        # compare_digest wants ASCII: a non-ASCII claim cannot be the hex digest anyway.
        if not isinstance(offered, str) or not offered.isascii() or not hmac.compare_digest(offered.lower(), payload_hash(body)):
            raise Rejected(403, "bad_signature", "the token's payload_hash is not the SHA-256 of this body")
        issued = claims.get("iat")
        if isinstance(issued, bool) or not isinstance(issued, (int, float)):
            raise Rejected(401, "bad_timestamp", "the token has no iat (issued-at, unix seconds)")
        skew = now - issued
        if abs(skew) > self._tolerance_s:
            when = f"{skew:.0f} s ago" if skew > 0 else f"{-skew:.0f} s ahead"
            raise Rejected(401, "stale_timestamp", f"signed {when}; requests are accepted within {self._tolerance_s:.0f} s of their iat")
        return token.rsplit(".", 1)[-1]
