"""What the simulator does wrong on purpose, and who is RCS-capable: the body of ``POST /_sim/config``.

Every rate is a probability in [0, 1] drawn per request (or per message, for the outcome). A send is refused
permanently (``error_rate``), transiently (``transient_error_rate``: 503) or throttled (``throttle_rate``: 429 with
Retry-After) before it is accepted; an accepted send is answered late (``timeout_rate``: the message is kept and
counted, then the answer waits ``timeout_hold_ms``, past any sane client timeout). An accepted message ends
UNDELIVERED, EXPIRED, silent (no event at all) or DELIVERED (then READ on RCS with ``read_rate``), each said in its
provider's words: Twilio ``undelivered`` (30003) and ``failed`` (30036, its ValidityPeriod ran out); RBM
TTL_EXPIRATION_REVOKED for EXPIRED and nothing for UNDELIVERED (RBM keeps such a message queued, it has no event for it).
``by_provider`` sets any of these for one provider only (``rbm``, ``twilio`` or ``aggregator``): RCS silent while SMS
delivers. The webhook URLs are where each shape of event goes: ``webhook_url`` the legacy events, ``rbm_webhook_url``
RBM's (the agent's webhook), ``twilio_inbound_url`` Twilio's inbound messages (Twilio's status callbacks go to each
message's own ``StatusCallback``).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Rate = Field(0.0, ge=0.0, le=1.0)


class RcsCapability(BaseModel):
    """Who is RCS-capable: numbers ending in a ``capable_suffixes`` entry are, then those ending in a
    ``not_capable_suffixes`` entry are not, then ``default`` decides."""

    model_config = ConfigDict(extra="forbid")

    default: bool = True
    not_capable_suffixes: list[str] = Field(default_factory=lambda: ["0", "5"])
    capable_suffixes: list[str] = Field(default_factory=list)

    def capable(self, e164: str) -> bool:
        if any(suffix and e164.endswith(suffix) for suffix in self.capable_suffixes):
            return True
        if any(suffix and e164.endswith(suffix) for suffix in self.not_capable_suffixes):
            return False
        return self.default


class Faults(BaseModel):
    """The simulator's whole behaviour; ``POST /_sim/config`` replaces the fields it names and keeps the others."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Rate
    transient_error_rate: float = Rate
    throttle_rate: float = Rate
    timeout_rate: float = Rate
    timeout_hold_ms: int = Field(30_000, ge=0, le=600_000)
    latency_ms: int = Field(0, ge=0, le=60_000)
    delivery_delay_ms: int = Field(100, ge=0, le=3_600_000)
    read_delay_ms: int = Field(100, ge=0, le=3_600_000)
    read_rate: float = Field(1.0, ge=0.0, le=1.0)
    undelivered_rate: float = Rate
    expired_rate: float = Rate
    silent_rate: float = Rate
    duplicate_rate: float = Rate
    reorder: bool = False
    sent_events: bool = Field(False, description="Legacy aggregator messages also report SENT before their final status "
                                                "(Twilio always does, RBM never).")
    rcs_capable: RcsCapability = Field(default_factory=RcsCapability)
    capability_down: bool = False
    down: bool = False
    seed: int | None = Field(None, description="Seed of the random draws, for reproducible runs; None draws from the OS.")
    webhook_url: str | None = Field(None, description="Where legacy events go; None means none.")
    rbm_webhook_url: str | None = Field(None, description="The RBM agent's webhook (Pub/Sub push shape); None means none.")
    twilio_inbound_url: str | None = Field(None, description="Where Twilio posts inbound messages; None means none.")
    webhook_attempts: int = Field(4, ge=1, le=20)
    by_provider: dict[Literal["rbm", "aggregator", "twilio"], dict[str, Any]] = Field(
        default_factory=dict, description="Fields that apply to one provider only, e.g. {\"rbm\": {\"silent_rate\": 1}}.")
    _per_provider: dict[str, "Faults"] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _rates_add_up(self) -> "Faults":
        if self.error_rate + self.transient_error_rate + self.throttle_rate > 1.0:
            raise ValueError("error_rate + transient_error_rate + throttle_rate must not exceed 1")
        if self.undelivered_rate + self.expired_rate + self.silent_rate > 1.0:
            raise ValueError("undelivered_rate + expired_rate + silent_rate must not exceed 1")
        for provider, changes in self.by_provider.items():
            if "by_provider" in changes:
                raise ValueError("by_provider cannot be nested")
            self._per_provider[provider] = Faults.model_validate({**self.model_dump(exclude={"by_provider"}), **changes})
        return self

    def for_provider(self, provider: str) -> "Faults":
        """The faults that apply to ``provider``'s messages (its ``by_provider`` fields over the common ones)."""
        return self._per_provider.get(provider, self)

    def updated(self, changes: dict[str, Any]) -> "Faults":
        """A new configuration with ``changes`` applied (validated as a whole); raises ``pydantic.ValidationError``."""
        return Faults.model_validate({**self.model_dump(), **changes})
