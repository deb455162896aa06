"""The consent stage's fraud guard: SMS pumping suspects become ``SUPPRESSED`` receipts (reason ``fraud_suspected``).

Why in the consent stage, not the intake: every message passes consent (HTTP, the Python client,
campaigns, auto-replies), and consent is where a message about to leave is already known as a valid
number with its region; the intake sees only HTTP calls. The guard judges a message only once consent
lets it through (a deferred one counts when it is released), and last, so a message refused for
another reason never counts.

State is this instance's memory, not a table: ``send-requested`` is partitioned by recipient, and a
pumping burst spreads over many numbers of one range, so each of N instances sees about 1/N of every
prefix's traffic and of its conversions (``conversions`` is keyed by message id). Surge and conversion
ratios hold whatever N is; the floors are per instance (the thresholds file says so). A restarted
instance starts without baselines: until it learns them, each prefix and country may receive its floor
per window.
"""
from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import Counter

from common.config import Settings
from processors.receipts import receipt
from processors.rules.fraud import PumpingDetector, Thresholds, load_thresholds
from processors.rules.numbers import Refusal, normalize
from processors.runtime.stage import Event, Output

SUPPRESSED = Counter("courrier_fraud_suppressed", "Messages the consent stage suppressed as suspected SMS pumping, by country",
                     ["country"])
STAGE = "consent"


class FraudGuard:
    """Screens the consent check's outputs and hears conversions; one per consent process, shared by its lanes (the
    marketing lane hears conversions, the transactional one screens OTPs), so each call holds the guard's lock."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.detector = PumpingDetector(thresholds)
        self._lock = threading.Lock()

    def screen(self, outputs: list[Output], now: datetime) -> list[Output]:
        """``outputs`` unchanged, or, for a watched lane's message judged pumping, its ``SUPPRESSED`` receipt alone (its
        ``consent-checked`` and ``frequency`` records dropped: it is not sent, so it is not counted against a cap)."""
        checked = next((o.value for o in outputs if o.topic == "consent-checked"), None)
        if not isinstance(checked, dict) or not self.detector.watches(checked["context"]["lane"]):
            return outputs
        recipient = checked["recipient"]
        with self._lock:
            suspicion = self.detector.judge(recipient["e164"], recipient.get("region"), now.timestamp())
        if suspicion is None:
            return outputs
        SUPPRESSED.labels(recipient.get("region") or "none").inc()
        return [receipt(checked["context"], recipient["e164"], "SUPPRESSED", STAGE, now, reason=suspicion.reason,
                        detail=suspicion.detail)]

    def hear(self, conversion: Event, now: datetime) -> None:
        """Count a reported conversion for its recipient's prefix; one without a usable recipient counts nowhere."""
        given = conversion.get("recipient")
        number = normalize(given, None) if given else None
        if number is None or isinstance(number, Refusal):
            return
        with self._lock:
            self.detector.conversion(number["e164"], conversion.get("occurred_at", now).timestamp())


def guard_from_settings(settings: Settings) -> FraudGuard | None:
    """The guard the settings ask for (``fraud_guard``, thresholds from ``fraud_file`` or the bundled file), or None."""
    if not settings.fraud_guard:
        return None
    return FraudGuard(load_thresholds(settings.fraud_file))
