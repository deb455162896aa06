"""The channel stage: ``consent-checked`` → ``channel-resolved``, or a suppressed receipt."""
from __future__ import annotations

from typing import Callable, Sequence

from processors.channel.logic import (
    MMS_REGIONS, SMS_FALLBACK_AFTER_S, CapabilityLookup, SenderTypes, any_sender_type, no_rcs_provider, rcs_recipients, resolve,
)
from processors.channel.senders import SenderPools
from processors.failed import beside_dead_letter
from processors.rules.keywords import KEYWORDS_INCOMPLETE
from processors.receipts import receipt
from processors.runtime.stage import Event, Output, RecordMeta, each_alone


class ChannelStage:
    """Picks the channel by policy, MMS regions and RCS capability, and a sticky sender from the region's pools.

    A lookup with a ``prefetch(numbers)`` method (``capability.CapabilityClient``) is asked once per batch for every
    RCS recipient it has not cached, so a batch costs one bulk capability call instead of one call per record."""

    name = "channel"
    inputs = ("consent-checked",)

    def __init__(self, pools: SenderPools | None = None, rcs_capable: CapabilityLookup = no_rcs_provider,
                 mms_regions: frozenset[str] = MMS_REGIONS, sms_fallback_after_s: int = SMS_FALLBACK_AFTER_S,
                 sender_refusal: Callable[[str], str | None] | None = None, sender_types: SenderTypes = any_sender_type) -> None:
        """``sender_refusal(sender_id)``: why a sender may not send marketing yet (its STOP and HELP responses,
        ``processors.keywords.completeness``), or None; a marketing message it would leave from is rejected.
        ``sender_types(region, type)``: whether the recipient's country lets that sender type reach it (the country
        rules' ``senders``); a message no allowed sender can carry is rejected ``sender_type_not_allowed``."""
        self._sender_types = sender_types
        self._pools = pools if pools is not None else SenderPools.load()
        self._sender_refusal = sender_refusal
        self._sms_fallback_after_s = sms_fallback_after_s
        self._rcs_capable = rcs_capable
        self._mms_regions = frozenset(mms_regions)

    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
        """The message's ``FAILED`` receipt beside its dead-letter record (``processors.failed``)."""
        return beside_dead_letter(self.name, event, error, meta)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        outputs = resolve(event, self._pools, self._rcs_capable, meta.now, self._mms_regions, self._sms_fallback_after_s,
                          self._sender_types)
        if self._sender_refusal is None or event["context"]["lane"] != "MARKETING":
            return outputs
        return [incomplete_sender(output, self._sender_refusal, meta) or output for output in outputs]

    def process_batch(self, items: Sequence[tuple[Event, RecordMeta]]) -> list[list[Output] | BaseException]:
        """Prefetch the batch's RCS capabilities, then resolve each record on its own (one record's error is its own)."""
        prefetch = getattr(self._rcs_capable, "prefetch", None)
        if prefetch is not None:
            prefetch(rcs_recipients(event for event, _meta in items))
        return each_alone(self.process, items)

    def close(self) -> None:
        closer = getattr(self._rcs_capable, "close", None)
        if closer is not None:
            closer()


def incomplete_sender(output: Output, refusal: Callable[[str], str | None], meta: RecordMeta) -> Output | None:
    """The ``REJECTED keywords_incomplete`` receipt replacing a ``channel-resolved`` output whose sender (or SMS
    fallback sender) may not send marketing yet, or None."""
    if output.topic != "channel-resolved":
        return None
    value = output.value
    fallback = value.get("sms_fallback")
    senders = [value["sender"]["sender_id"], *([fallback["sender"]["sender_id"]] if fallback else [])]
    why = next((reason for reason in map(refusal, senders) if reason), None)
    if why is None:
        return None
    return receipt(value["context"], value["recipient"]["e164"], "REJECTED", "channel", meta.now, reason=KEYWORDS_INCOMPLETE,
                   detail=why)
