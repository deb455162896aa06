"""A circuit breaker for one provider: stop sending to a provider that keeps failing, try it again after a cool-down.

Pure: the caller passes the time. Closed, it counts the outcomes of the last ``window`` answers and
opens when ``failures`` of them failed. Open, it refuses traffic for ``cooldown_s``, then lets one
trial call through (half-open): success closes it, failure opens it again for twice as long (up to
``max_cooldown_s``). A failure is the provider not doing its job (unreachable, connection lost,
no answer, a server error), not a refusal of one message nor throttling: those prove it is alive.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open."""

    failures: int = 5
    window: int = 20
    cooldown_s: float = 10.0
    max_cooldown_s: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.failures <= self.window or self.cooldown_s <= 0 or self.max_cooldown_s < self.cooldown_s:
            raise ValueError("need 1 ≤ failures ≤ window and 0 < cooldown_s ≤ max_cooldown_s")


class Breaker:
    """One provider's breaker: ``allows(now)`` before routing to it, ``record(ok, now)`` after each answer."""

    def __init__(self, policy: BreakerPolicy = BreakerPolicy()) -> None:
        self.policy = policy
        self._outcomes: deque[bool] = deque(maxlen=policy.window)
        self._open_until: float | None = None
        self._cooldown_s = policy.cooldown_s
        self._trial = False  # a half-open trial call is out

    def state(self, now: float) -> str:
        """``closed``, ``open`` or ``half-open``."""
        if self._open_until is None:
            return "closed"
        return "open" if now < self._open_until else "half-open"

    def allows(self, now: float) -> bool:
        """Whether traffic may go to the provider now; in half-open, only the one trial call's traffic."""
        state = self.state(now)
        return state == "closed" or (state == "half-open" and not self._trial)

    def start_trial(self, now: float) -> None:
        """Traffic is going to a half-open provider: no other call until its outcome is recorded."""
        if self.state(now) == "half-open":
            self._trial = True

    def record(self, ok: bool, now: float) -> None:
        """The outcome of one answer (one message's result, or a call that could not be made)."""
        if self._open_until is not None:
            if now < self._open_until and not self._trial:
                return  # an answer from before it opened: the open period stands
            if ok:
                self._close()
            else:
                self._open(now, self._cooldown_s * 2)
            return
        self._outcomes.append(ok)
        if sum(1 for outcome in self._outcomes if not outcome) >= self.policy.failures:
            self._open(now, self.policy.cooldown_s)

    def trip(self, now: float) -> None:
        """Open at once (the provider could not even be opened); a failed trial doubles the cool-down."""
        self._open(now, self._cooldown_s * 2 if self._open_until is not None else self.policy.cooldown_s)

    def _open(self, now: float, cooldown_s: float) -> None:
        self._cooldown_s = min(self.policy.max_cooldown_s, cooldown_s)
        self._open_until = now + self._cooldown_s
        self._trial = False
        self._outcomes.clear()

    def _close(self) -> None:
        self._open_until = None
        self._cooldown_s = self.policy.cooldown_s
        self._trial = False
        self._outcomes.clear()
