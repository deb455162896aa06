"""The bodies of ``POST /v1/conversions``: what a caller reports, and the attribution it gets back."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")]
Token = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MICROS = Decimal(1_000_000)


class ConversionRequest(BaseModel):
    """A conversion to attribute: its own id (sent again, it is counted once), the message id or short-link token it
    came from, the event's name and, optionally, its value and when it happened."""

    model_config = ConfigDict(extra="forbid")

    conversion_id: Id = Field(description="The caller's id of this conversion (an order id…): a replay is answered 200 with the first result.")
    message_id: Id | None = Field(None, description="The message the conversion came from.")
    link_token: Token | None = Field(None, description="The short-link token clicked (the last path segment of the link).")
    event: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")] = Field(
        description="The event's name, e.g. purchase, signup.")
    value: Decimal | None = Field(None, ge=0, le=Decimal(10) ** 12, decimal_places=6, description="The conversion's value, with currency.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(None, description="ISO 4217 code of value.")
    occurred_at: AwareDatetime | None = Field(None, description="When it happened (with an offset); default: when received.")

    @model_validator(mode="after")
    def _names_its_message(self) -> ConversionRequest:
        if self.message_id is None and self.link_token is None:
            raise ValueError("give message_id or link_token (or both)")
        if (self.value is None) != (self.currency is None):
            raise ValueError("value and currency go together")
        return self

    def value_micros(self) -> int | None:
        return None if self.value is None else int(self.value * MICROS)


class ConversionRecorded(BaseModel):
    """The conversion as recorded: the message, campaign, variant and button it is attributed to."""

    conversion_id: str
    message_id: str
    link_token: str | None
    campaign_id: str | None
    variant: str | None
    button: str | None = Field(description="link:<token> for a short link; null when attributed to the message alone.")
    event: str
    value: Decimal | None
    currency: str | None
    occurred_at: datetime
    replayed: bool = Field(description="True when this conversion id was recorded before: this is that first result, not counted again.")

    @classmethod
    def of(cls, value: dict, replayed: bool) -> ConversionRecorded:  # type: ignore[type-arg]
        """The body for a ``Conversion`` record."""
        micros = value.get("value_micros")
        return cls(conversion_id=value["conversion_id"], message_id=value["message_id"], link_token=value.get("link_token"),
                   campaign_id=value.get("campaign_id"), variant=value.get("variant"), button=value.get("button"),
                   event=value["event"], value=None if micros is None else Decimal(micros) / MICROS,
                   currency=value.get("currency"), occurred_at=value["occurred_at"], replayed=replayed)
