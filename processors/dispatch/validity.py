"""How long a message may take: until when dispatch keeps trying to hand it over, until when the network may deliver
it, and when, still without a delivery report, it is given up on.

A rendered message's ``expires_at`` (the request's ``validity_seconds`` after ``requested_at``) is its validity's end
for all three. Without one, ``default_s`` (``COURRIER_DEFAULT_VALIDITY_S``, 24 h) stands in for it, counted:

- for retries while no provider can take it (``retry_until``), from ``requested_at``, the one moment every retry of the
  record carries unchanged (so the window closes; a message held past it by ``send_at`` gets one more try, then ends);
- on the network (``on_network``: SMPP ``validity_period``, RBM ``expireTime``), from the submit, as an SMSC counts
  its own default validity.

An SMS or MMS handed over has until ``report_due`` = its validity on the network + the provider's grace
(``COURRIER_REPORT_GRACE_S``, 1 h, or that provider's entry in ``COURRIER_REPORT_GRACE_BY_PROVIDER``) for its delivery
report: an SMSC reports EXPIRED at the end of validity itself, so no report by then means none will come.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from common.config import Settings
from processors.runtime.stage import Event

DEFAULT_VALIDITY_S = 86_400.0
DEFAULT_REPORT_GRACE_S = 3_600.0


@dataclass(frozen=True)
class Validity:
    """The validity rules of one dispatch process (see the module docstring)."""

    default_s: float = DEFAULT_VALIDITY_S
    report_grace_s: float = DEFAULT_REPORT_GRACE_S
    grace_by_provider: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default_s <= 0 or self.report_grace_s < 0 or any(g < 0 for g in self.grace_by_provider.values()):
            raise ValueError("the default validity must be positive and report graces not negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> Validity:
        return cls(settings.default_validity_s, settings.report_grace_s, parse_graces(settings.report_grace_by_provider))

    def retry_until(self, rendered: Event) -> datetime:
        """Until when a message no provider could take is retried: its ``expires_at``, else ``requested_at`` + default."""
        expires_at = rendered.get("expires_at")
        return expires_at if expires_at is not None else rendered["context"]["requested_at"] + timedelta(seconds=self.default_s)

    def on_network(self, rendered: Event, submitted_at: datetime) -> datetime:
        """The validity a submit carries: its ``expires_at``, else ``submitted_at`` + default."""
        expires_at = rendered.get("expires_at")
        return expires_at if expires_at is not None else submitted_at + timedelta(seconds=self.default_s)

    def report_due(self, rendered: Event, provider: str, submitted_at: datetime) -> datetime:
        """When a message handed to ``provider`` at ``submitted_at`` must have its delivery report (see the module)."""
        grace_s = self.grace_by_provider.get(provider, self.report_grace_s)
        return self.on_network(rendered, submitted_at) + timedelta(seconds=grace_s)


def parse_graces(text: str) -> dict[str, float]:
    """``COURRIER_REPORT_GRACE_BY_PROVIDER``: ``name=seconds`` pairs, comma-separated (``http:sim=600,smpp:h:2775=7200``);
    a provider's name is the one dispatch logs and writes in receipts. Raises ``ValueError`` on a malformed pair."""
    graces: dict[str, float] = {}
    for pair in (part.strip() for part in text.split(",") if part.strip()):
        name, sep, seconds = pair.rpartition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if not sep or not name.strip() or value < 0:
            raise ValueError(f"COURRIER_REPORT_GRACE_BY_PROVIDER: {pair!r} is not provider=seconds")
        graces[name.strip()] = value
    return graces
