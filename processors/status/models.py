"""What ``GET /v1/messages/{id}`` and ``GET /v1/campaigns/{id}`` answer (pydantic v2; enums lower case as on the intake)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class StatusChangeBody(BaseModel):
    """One receipt of the message."""

    receipt_id: str | None = Field(description="The receipt's id, as status callbacks send it (Courrier-Receipt-Id).")
    status: str = Field(description="The receipt's status, e.g. sent, delivered, undelivered, read.")
    terminal: bool
    reason: str | None = None
    stage: str = Field(description="The stage that wrote the receipt.")
    channel: str | None = None
    occurred_at: datetime


class MessageStatusBody(BaseModel):
    """A message's current status, channel, fallback, segments, cost and receipt history."""

    message_id: str
    status: str = Field(description="The outcome once one came (then read, clicked), else the latest receipt's status.")
    terminal: bool = Field(description="True once the message has its outcome.")
    recipient: str
    channel: str | None = Field(None, description="Channel of the latest attempt: sms, mms or rcs.")
    fallback_reason: str | None = Field(None, description="Why the channel differs from the one asked for, if it does.")
    segments: int | None = None
    provider: str | None = None
    cost_micros: int | None = Field(None, description="Cost of every attempt made (each once), in millionths of currency.")
    currency: str | None = None
    campaign_id: str | None = None
    variant: str | None = None
    updated_at: datetime
    history: list[StatusChangeBody] = Field(description="The receipts in the order they came (the latest ones only).")
    history_dropped: int = Field(0, description="Older receipts left out of history.")


class ReceiptCountBody(BaseModel):
    """Receipts of one variant, status and channel."""

    variant: str | None
    status: str
    channel: str | None
    count: int


class CampaignStatusBody(BaseModel):
    """A campaign's counts as its receipts came."""

    campaign_id: str
    messages: int = Field(description="Messages that have at least one receipt.")
    statuses: dict[str, int] = Field(description="Messages by current status.")
    receipts: list[ReceiptCountBody] = Field(description="Receipts by variant, status and channel.")
    cost_micros: int = Field(description="Cost of every attempt billed, in millionths of currency.")
    currency: str | None
    segments: int = Field(description="Segments of every attempt billed.")
    updated_at: datetime
