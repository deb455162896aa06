"""``campaign-status`` rows made the way the status stage makes them: receipts through ``StatusStage``, for the
dashboard's tests without a broker."""
from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import timedelta

from processors.runtime.stage import Event, RecordMeta
from processors.status.stage import StatusStage
from tests.processors.status.receipts import T0, context, made

RCS_FALLBACK = "rcs_expired"


def message(message_id: str, campaign: str | None, variant: str | None, path: str, clicks: Iterable[str] = ()) -> list[Event]:
    """The receipts of one message: ``path`` is ``sms`` (delivered), ``sms-failed``, ``rcs`` (delivered on RCS) or
    ``fallback`` (RCS undelivered, then SMS delivered); each URL of ``clicks`` is a short-link click."""
    ctx = context(message_id, campaign, variant)
    receipts: list[Event] = []
    if path in ("rcs", "fallback"):
        receipts += [made("SENT", ctx, 1, channel="RCS", provider="rbm")]
        receipts += [made("DELIVERED", ctx, 2, channel="RCS", provider="rbm")] if path == "rcs" else \
                    [made("UNDELIVERED", ctx, 2, channel="RCS", provider="rbm", terminal=False)]
    if path in ("sms", "sms-failed", "fallback"):
        extra = {"fallback_reason": RCS_FALLBACK} if path == "fallback" else {}
        receipts += [made("SENT", ctx, 3, **extra),
                     made("FAILED" if path == "sms-failed" else "DELIVERED", ctx, 4, **extra)]
    for n, url in enumerate(clicks):
        receipts.append(made("CLICKED", ctx, 10 + n, stage="links", reason="link:abc", detail=url, channel=None))
    return receipts


def conversion(message_id: str, campaign: str, variant: str | None, event: str = "purchase", value_micros: int | None = None) -> Event:
    """A ``conversions`` record as the intake's desk writes it, attributed to ``campaign``."""
    return {"message_id": message_id, "link_token": None, "event": event, "value_micros": value_micros,
            "currency": "EUR" if value_micros is not None else None, "occurred_at": T0, "recipient": None,
            "conversion_id": f"c-{message_id}-{event}", "campaign_id": campaign, "variant": variant, "button": None}


def rows(receipts: Iterable[Event], partitions: int = 2, conversions: Iterable[Event] = ()) -> list[Event]:
    """The ``campaign-status`` rows the status stage writes for ``receipts`` (spread over ``partitions``) and
    ``conversions``."""
    messages: dict[str, Event] = {}
    campaigns: dict[str, Event] = {}
    stage = StatusStage(messages, campaigns)
    for offset, receipt in enumerate(receipts):
        partition = zlib.crc32(receipt["context"]["message_id"].encode()) % partitions
        meta = RecordMeta("receipt", partition, offset, receipt["recipient"], T0 + timedelta(seconds=offset))
        [outputs] = stage.process_batch([(receipt, meta)])
        assert isinstance(outputs, list), outputs
        for output in outputs:
            (messages if output.topic == "message-status" else campaigns)[output.key] = output.value
    for offset, record in enumerate(conversions):
        meta = RecordMeta("conversions", offset % partitions, offset, record["message_id"], T0 + timedelta(seconds=offset))
        [outputs] = stage.process_batch([(record, meta)])
        assert isinstance(outputs, list), outputs
        campaigns.update((output.key, output.value) for output in outputs)
    return list(campaigns.values())
