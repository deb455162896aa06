"""What a provider's conformance harness offers the kit (``test_conformance.py``).

Each provider folder's tests hold a ``harness.py`` defining ``HARNESS`` (a class or a zero-argument factory): it
starts the provider's fake (or a private SMSC), builds the adapter against it, makes valid submissions, injects one
fault into the next submit request, counts what the fake really made, and produces genuine and forged webhook
requests. The kit then checks every adapter against the same rules.
"""
from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from processors.dispatch.provider import Provider, Submission
from processors.web.webhook_contract import WebhookProvider

# The faults ``inject`` must support, each for the next submit request only.
FAULTS = ("lost_answer", "unauthorized", "forbidden", "throttled", "server_error", "bad_request")


class Harness(Protocol):
    name: str  # the provider kind
    channel: str  # the channel its submissions use
    statuses: Mapping[str, str]  # provider status word → the receipt status it must become

    def running(self) -> AbstractContextManager[None]:
        """Start the fake (or the private peer) for the duration of the block."""

    def provider(self) -> Provider:
        """A fresh adapter pointed at the fake, not opened."""

    def submission(self, message_id: str) -> Submission:
        """A valid submission on ``channel``."""

    def times_sent(self, message_id: str) -> int:
        """How many messages the fake made for ``message_id``."""

    def inject(self, fault: str) -> None:
        """One of ``FAULTS``, for the next submit request only."""

    def webhook(self) -> WebhookProvider | None:
        """The verifier and parser as the receiver builds them; None when reports come over the provider's own link."""

    def signed_report(self, message_id: str, provider_message_id: str, raw_status: str) -> tuple[dict[str, str], bytes]:
        """A genuine delivery report: (lower-cased headers, body), as the provider posts it."""

    # Optional: ``provider_id() -> str``, a provider message id in the provider's own format, for ``signed_report``.

    def forged(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """The same request with a signature that is not the provider's."""
