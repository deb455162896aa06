"""Before the SMS fallback a deadline triggered: withdraw the RCS attempt, and do not send the SMS if it was delivered.

The receipt stage sends attempt 2 (the SMS) when the RCS attempt is reported failed or when its deadline comes
first; only the deadline leaves an RCS message that may still be delivered (the phone was offline), so only then is
there something to withdraw. Such a fallback carries ``fallback_reason`` ``fallback.NOT_DELIVERED_IN_TIME``. Before
it is submitted, dispatch asks the provider that took the RCS attempt (the ledger names it) to revoke it, when the
provider can (an optional ``revoke(message_id, destination) -> bool | None``, see ``processors.dispatch.provider``):

- revoked (True) → the SMS goes;
- delivered meanwhile (False: RBM answers 404 to a revoke of a delivered message) → no SMS: a terminal
  ``DELIVERED`` receipt for the RCS attempt instead, since the message's outcome will not come from an SMS attempt;
- no answer (None, an exception, the provider not open, or one provider already silent in this batch) → the SMS
  goes. Deliberately: the deadline already says the RCS message was not delivered in time, and RBM's guidance for
  time-sensitive messages is to send the SMS even at the risk of a duplicate; holding the fallback for RBM to come
  back could cost the message altogether, while the RCS copy still expires at its expireTime (the validity's end).

Each message is revoked once per process (``_done`` remembers the answer), so a fallback deferred by pacing or retried
for want of an SMS provider does not revoke again: a second revoke of a revoked message could answer 404 too, which
would read as "delivered". A fallback with a ledger record of its own has been submitted before, hence revoked before.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter

from processors import fallback
from processors.dispatch.logic import STAGE
from processors.dispatch.provider import Provider
from processors.receipts import receipt
from processors.runtime.stage import Event, Output

log = logging.getLogger(__name__)
MAX_REMEMBERED = 100_000

# In the default registry, once per process (several stages may share a test process).
REVOKES = Counter("courrier_rcs_revokes", "RCS attempts dispatch asked to withdraw before a deadline's SMS fallback, by provider "
                  "and outcome (revoked, delivered: no SMS sent, unanswered: the SMS went anyway)", ["provider", "outcome"])


class Revoker:
    """Decides, per deadline-triggered fallback, whether its SMS goes; ``ledger_state`` reads the submissions ledger and
    ``provider`` finds an open provider by name (None when it is not there or not open)."""

    def __init__(self, ledger_state: Callable[[str], Event | None], provider: Callable[[str], Provider | None],
                 max_remembered: int = MAX_REMEMBERED) -> None:
        self._ledger_state = ledger_state
        self._provider = provider
        self._done: OrderedDict[str, bool] = OrderedDict()  # RCS submission id → revoked (True) or delivered (False)
        self._max = max_remembered

    def before_fallback(self, event: Event, now: datetime, silent: set[str]) -> list[Output] | None:
        """None when ``event`` (a rendered message about to be submitted) may go; the receipt that replaces it when its
        RCS attempt was delivered. ``silent``: providers that did not answer a revoke in this batch (not asked again)."""
        if event.get("attempt", 1) != fallback.FALLBACK_ATTEMPT or event.get("fallback_reason") != fallback.NOT_DELIVERED_IN_TIME:
            return None
        rcs_id = fallback.message_id_of(event["context"]["message_id"])
        attempt = self._ledger_state(rcs_id)
        if attempt is None or attempt["state"] != "SUBMITTED":
            return None  # no RCS attempt the provider took: nothing to withdraw
        name = attempt["provider"]
        delivered = self._done.get(rcs_id)
        if delivered is None:
            answer = self._ask(name, rcs_id, event["recipient"]["e164"], silent)
            if answer is None:
                return None
            delivered = not answer
            self._remember(rcs_id, delivered)
        if not delivered:
            return None
        return [receipt(event["context"], event["recipient"]["e164"], "DELIVERED", STAGE, now, reason="rcs_delivered_before_revoke",
                        detail=f"the RCS attempt was delivered before {name} could withdraw it; the SMS fallback is not sent",
                        channel="RCS", provider=name, provider_message_id=(attempt["provider_message_ids"] or [None])[0])]

    def _ask(self, name: str, rcs_id: str, destination: str, silent: set[str]) -> bool | None:
        provider = None if name in silent else self._provider(name)
        revoke = getattr(provider, "revoke", None)
        if revoke is None:
            if provider is None:
                REVOKES.labels(name, "unanswered").inc()
            return None  # a provider without revoke (SMPP, the simulator's HTTP API): the SMS goes, as before
        try:
            answer = revoke(rcs_id, destination)
        except Exception:  # a provider's bug must not hold the fallback: it goes, as when the provider does not answer
            log.exception("revoking the RCS attempt failed; the SMS fallback goes", extra={"provider": name, "message_id": rcs_id})
            answer = None
        if answer is None:
            silent.add(name)
            log.warning("the RCS attempt could not be revoked; the SMS fallback goes anyway",
                        extra={"provider": name, "message_id": rcs_id})
        REVOKES.labels(name, {True: "revoked", False: "delivered", None: "unanswered"}[answer]).inc()
        return answer

    def _remember(self, rcs_id: str, delivered: bool) -> None:
        self._done[rcs_id] = delivered
        while len(self._done) > self._max:
            self._done.popitem(last=False)
