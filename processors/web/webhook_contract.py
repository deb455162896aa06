"""What a provider plugs into the webhook receiver (``processors.webhooks``): a verifier (who sent this?) and a parser
(what does it say?).

Each provider kind builds its ``WebhookProvider`` (its ``webhook`` in ``processors.providers.registry``): its verifier
raises ``Rejected`` for a request it cannot authenticate and returns the request's signature; its parser raises
``Rejected`` for a body it cannot read and returns the records to publish with the provider's event id (the replay key).
It lives here, below both, because the providers implement it and the receiver serves every configured one.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from processors.runtime.stage import Output


class Rejected(Exception):
    """A request the receiver refuses: the HTTP status, a machine-readable reason (the metric label) and a message.

    The message is shown to the caller and logged: it never holds a secret, a signature or the body.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Parsed:
    """A body understood: the provider's id of the event (None when it has none) and the records it becomes.

    ``reply``: the plain-text body the provider expects back instead of the receiver's JSON, for a request that is
    not an event (a webhook verification handshake, e.g. RBM's echoed secret); it publishes nothing.
    """

    event_id: str | None
    outputs: tuple[Output, ...]
    reply: str | None = None


# (lower-cased headers, raw body, now in unix seconds) → the request's signature, or raises Rejected.
Verifier = Callable[[Mapping[str, str], bytes, float], str]
# raw body → what it says, or raises Rejected.
Parser = Callable[[bytes], Parsed]


@dataclass(frozen=True)
class WebhookProvider:
    """One provider's webhook, served at ``POST /webhooks/{name}``."""

    name: str
    verify: Verifier
    parse: Parser
