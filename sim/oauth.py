"""Google's OAuth 2.0 token endpoint for service accounts, as the simulator plays it: ``POST /token``.

The client (google-auth's ``service_account.Credentials``) posts a form ``grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer&assertion=<JWT>``; the JWT is RS256-signed with the service account's private key, its header names the
key (``kid`` = ``private_key_id``), its claims are ``iss`` (the account's ``client_email``), ``aud`` (Google's token
endpoint, ``https://oauth2.googleapis.com/token``: google-auth names it wherever the key file's ``token_uri`` points;
the URL the assertion was posted to is accepted too), ``scope`` (space-separated), ``iat`` and ``exp`` (at most an
hour apart). The answer is
``{"access_token", "expires_in", "token_type": "Bearer"}``; a refusal is 400 ``{"error": "invalid_grant" |
"invalid_scope" | "unsupported_grant_type" | "invalid_request", "error_description"}``
(developers.google.com/identity/protocols/oauth2/service-account#httprest).

The access token is then a bearer token of the RBM API; ``scopes`` says what it was granted for.
"""
from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sim.reply import Reply

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
RBM_SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
TOKEN_LIFETIME_S = 3599  # Google answers 3599, not 3600
MAX_ASSERTION_LIFETIME_S = 3600
CLOCK_SKEW_S = 300
MAX_TOKENS = 10_000
SHORT_LIVED = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
               "Check your iat and exp values in the JWT claim.")


@dataclass(frozen=True)
class _Account:
    key_id: str | None
    public_key: RSAPublicKey


@dataclass(frozen=True)
class Grant:
    """Who an access token was issued to, for which scopes, until when (``time.monotonic``)."""

    client_email: str
    scopes: frozenset[str]
    expires_at: float


class TokenIssuer:
    """Verifies service-account assertions and remembers the access tokens it issued (bounded, oldest dropped)."""

    def __init__(self, service_accounts: Sequence[Mapping[str, str]]) -> None:
        self._accounts: dict[str, _Account] = {}
        for info in service_accounts:
            private = load_pem_private_key(info["private_key"].encode(), password=None)
            public = private.public_key()
            if not isinstance(public, RSAPublicKey):
                raise ValueError(f"service account {info['client_email']} does not hold an RSA key")
            self._accounts[info["client_email"]] = _Account(info.get("private_key_id"), public)
        self._tokens: OrderedDict[str, Grant] = OrderedDict()
        self.issued = 0
        self.refused = 0

    def token(self, form: Mapping[str, str], posted_to: str) -> Reply:
        """The answer to a token request posted to the URL ``posted_to``."""
        grant_type, assertion = form.get("grant_type", ""), form.get("assertion", "")
        if grant_type != GRANT_TYPE:
            return self._refuse("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        if not assertion:
            return self._refuse("invalid_request", "Missing required parameter: assertion")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._refuse("invalid_grant", "Invalid JWT: malformed assertion")
        account = self._accounts.get(str(unverified.get("iss", "")))
        if account is None:
            return self._refuse("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or (header.get("kid") is not None and header.get("kid") != account.key_id):
            return self._refuse("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(assertion, account.public_key, algorithms=["RS256"], audience=[GOOGLE_TOKEN_URI, posted_to],
                                leeway=CLOCK_SKEW_S,
                                options={"require": ["iss", "aud", "iat", "exp"]})
        except jwt.InvalidSignatureError:
            return self._refuse("invalid_grant", "Invalid JWT Signature.")
        except jwt.InvalidAudienceError:
            return self._refuse("invalid_grant", "Invalid JWT: Failed audience check.")
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError):
            return self._refuse("invalid_grant", SHORT_LIVED)
        except jwt.PyJWTError as exc:
            return self._refuse("invalid_grant", f"Invalid JWT: {exc}")
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_LIFETIME_S:
            return self._refuse("invalid_grant", SHORT_LIVED)
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return self._refuse("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return Reply(200, {"access_token": self._issue(str(claims["iss"]), scopes), "expires_in": TOKEN_LIFETIME_S,
                           "token_type": "Bearer"}, {"Cache-Control": "no-store"})

    def grant(self, authorization: str) -> Grant | None:
        """The grant behind an ``Authorization: Bearer <token>`` header; None when unknown or expired."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        grant = self._tokens.get(token.strip())
        return grant if grant is not None and grant.expires_at > time.monotonic() else None

    def revoke_all(self) -> None:
        """Forget every issued token (a client must fetch a new one): the simulator's credential rotation."""
        self._tokens.clear()

    def _issue(self, client_email: str, scopes: frozenset[str]) -> str:
        token = "ya29." + secrets.token_urlsafe(48)  # the prefix of Google's access tokens; nothing checks it
        self._tokens[token] = Grant(client_email, scopes, time.monotonic() + TOKEN_LIFETIME_S)
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)
        self.issued += 1
        return token

    def _refuse(self, error: str, description: str) -> Reply:
        self.refused += 1
        return Reply(400, {"error": error, "error_description": description})
