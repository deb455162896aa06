"""The simulator's state and the rules every simulated provider shares: faults (provider down, refusals queued with
``fail_next`` or drawn, lost answers), the message store, the webhook queue, the OAuth token issuer and the stats.
Each provider's API is a module of its own (``sim.rbm``, ``sim.twilio``, ``sim.legacy``) that calls back here.

Order for a send: provider down → bad request → a refusal (the next queued fault, else drawn: permanent, transient,
throttled) → the provider's own refusals (not RCS-capable, unsubscribed) → already known (RBM 409, aggregator 200,
counted as an attempt) → accepted (counted, events planned) → maybe answered late (a queued ``lost_answer`` or
``timeout_rate``: accepted first, so a client that gave up must look the message up, not send it again).
"""
from __future__ import annotations

import random
import secrets
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sim import events
from sim.credentials import LOCAL_AGENT_ID, ProviderCredentials
from sim.faults import Faults
from sim.oauth import TokenIssuer
from sim.reply import Reply
from sim.store import PROVIDERS, MessageStore, SimMessage
from sim.webhooks import WebhookSender

LOST_ANSWER = "lost_answer"
MAX_NEXT_FAULTS = 1_000


class Refusal(StrEnum):
    """Why a provider refuses a request instead of accepting it; each provider answers each in its own words."""

    PERMANENT = "bad_request"  # a permanent 4xx for this message
    TRANSIENT = "server_error"  # 503: try again later
    THROTTLED = "throttled"  # 429 with Retry-After
    UNAUTHORIZED = "unauthorized"  # 401: the credentials are refused
    FORBIDDEN = "forbidden"  # 403: the credentials may not do this


NEXT_FAULTS = frozenset({*(r.value for r in Refusal), LOST_ANSWER})


@dataclass(frozen=True)
class Draw:
    """What happens to one request: refused (and why), or accepted and maybe answered past the client's timeout."""

    refusal: Refusal | None = None
    late: bool = False


@dataclass(frozen=True)
class Post:
    """A webhook to post for a step: where, the body, its signed headers (None: a legacy event, signed at each try),
    and a guard asked before each try (an RBM message revoked since posts nothing)."""

    url: str
    body: bytes
    headers: dict[str, str] | None = None
    guard: Callable[[], bool] | None = None


Render = Callable[[SimMessage, events.Planned, datetime], Post | None]


@dataclass(frozen=True)
class SimOptions:
    """What the simulator starts with: the legacy token, its webhook URLs and secret, the providers' credentials and
    its memory bounds.

    ``webhook_secret`` None: legacy events are signed with a random secret of its own that no receiver knows, so they
    are refused; there is no built-in secret a forger could sign with too. ``credentials`` None: random ones of its
    own (``Simulator.credentials``). The legacy token is the local simulator's own (``common.config.LOCAL_SIM_TOKEN``):
    it guards a loopback test double, nothing real."""

    token: str = "courrier-dev-token"
    webhook_url: str | None = "http://127.0.0.1:18091/webhooks/sim"
    webhook_secret: str | None = None
    rbm_webhook_url: str | None = None
    twilio_inbound_url: str | None = None
    credentials: ProviderCredentials | None = None
    rbm_agent_id: str = LOCAL_AGENT_ID
    max_messages: int = 100_000
    max_pending_events: int = 200_000


class Simulator:
    """Faults, the message store, the webhook queue and the token issuer; every method runs on the server's one event loop."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        # The token URI in the simulator's own copy is never used: an assertion's audience is checked against the URL it
        # was posted to.
        self.credentials = options.credentials or ProviderCredentials.generate("http://127.0.0.1/token")
        self.oauth = TokenIssuer([self.credentials.service_account])
        self.webhooks = WebhookSender(options.webhook_secret or secrets.token_urlsafe(32), options.max_pending_events)
        self.reset()

    def reset(self) -> None:
        """Back to the start: default faults, nothing stored, no event or queued fault waiting, counters at zero.
        Issued access tokens stay valid, as a provider's do."""
        self.faults = Faults(webhook_url=self.options.webhook_url, rbm_webhook_url=self.options.rbm_webhook_url,
                             twilio_inbound_url=self.options.twilio_inbound_url)
        self.rng = random.Random()
        self.store = MessageStore(self.options.max_messages)
        self.refused: Counter[str] = Counter()
        self.capability_checks = 0
        self.next_faults: dict[str, deque[str]] = {provider: deque() for provider in PROVIDERS}
        self.unsubscribed: set[tuple[str, str]] = set()  # Twilio: (recipient, our number) pairs the recipient said STOP to
        self.webhooks.clear()

    def configure(self, changes: dict[str, Any]) -> Faults:
        """Apply part of a configuration; raises ``ValidationError`` (nothing changed) when it does not hold."""
        self.faults = self.faults.updated(changes)
        if "seed" in changes:
            self.rng = random.Random(self.faults.seed)
        return self.faults

    def fail_next(self, provider: str, faults: list[str]) -> list[str]:
        """Queue ``faults`` for ``provider``'s next send requests, one each, in order; the queue now. ``ValueError``
        naming what is wrong, nothing queued."""
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        unknown = [fault for fault in faults if fault not in NEXT_FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}: use {', '.join(sorted(NEXT_FAULTS))}")
        queue = self.next_faults[provider]
        if len(queue) + len(faults) > MAX_NEXT_FAULTS:
            raise ValueError(f"at most {MAX_NEXT_FAULTS} faults may wait")
        queue.extend(faults)
        return list(queue)

    # What every provider's send goes through ----------------------------------------------------------------------

    def down(self, capability: bool = False) -> bool:
        """The provider (or, for ``capability``, its capability API) is down: counted, to be answered 503."""
        if self.faults.down or (capability and self.faults.capability_down):
            self.refused["down"] += 1
            return True
        return False

    def draw(self, provider: str) -> Draw:
        """The next queued fault of ``provider`` if one waits, else a draw from the configured rates; a refusal is counted."""
        queued = self.next_faults[provider]
        if queued:
            fault = queued.popleft()
            if fault == LOST_ANSWER:
                return Draw(late=True)
            return self._refused(Refusal(fault))
        value, faults = self.rng.random(), self.faults.for_provider(provider)
        if value < faults.error_rate:
            return self._refused(Refusal.PERMANENT)
        if value < faults.error_rate + faults.transient_error_rate:
            return self._refused(Refusal.TRANSIENT)
        if value < faults.error_rate + faults.transient_error_rate + faults.throttle_rate:
            return self._refused(Refusal.THROTTLED)
        return Draw(late=self.rng.random() < faults.timeout_rate)

    def answer(self, reply: Reply, draw: Draw) -> Reply:
        """``reply``, held past any sane client timeout when the draw says the answer is lost."""
        return reply.held(self.faults.timeout_hold_ms / 1000) if draw.late else reply

    def accept(self, message: SimMessage, now: datetime, render: Render) -> None:
        """Plan what ``message`` will report and queue each step as ``render`` shapes it (None: that step posts nothing)."""
        faults = self.faults.for_provider(message.provider)
        for planned in events.plan(message, faults, self.rng, now):
            self.post(render(message, planned, now), planned.delay_s)

    def post(self, post: Post | None, delay_s: float = 0.0) -> None:
        """Queue ``post`` ``delay_s`` from now; nothing for None."""
        if post is not None:
            self.webhooks.push(post.url, post.body, delay_s, self.faults.webhook_attempts, post.headers, post.guard)

    def _refused(self, refusal: Refusal) -> Draw:
        self.refused[{Refusal.PERMANENT: "permanent", Refusal.TRANSIENT: "transient"}.get(refusal, refusal.value)] += 1
        return Draw(refusal=refusal)

    # Stats ----------------------------------------------------------------------------------------------------------

    def stats(self, prefix: str = "") -> dict[str, Any]:
        counts = self.webhooks.counts
        return {"submissions": self.store.submissions(prefix), "submissions_by_provider": self.store.submissions_by_provider(prefix),
                "total": self.store.total, "by_channel": dict(self.store.by_channel), "messages": len(self.store),
                "evicted": self.store.evicted, "refused": dict(self.refused), "capability_checks": self.capability_checks,
                "next_faults": {p: list(q) for p, q in self.next_faults.items() if q},
                "oauth": {"issued": self.oauth.issued, "refused": self.oauth.refused},
                "webhooks": {"posted": counts.posted, "retried": counts.retried, "failed": counts.failed,
                             "dropped": counts.dropped, "cancelled": counts.cancelled, "pending": self.webhooks.pending}}
